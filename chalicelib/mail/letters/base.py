"""What every letter family shares: the Letter it returns, and one constructor."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...core.jobs import MailJob

if TYPE_CHECKING:
    from ...core.settings import Settings
    from ...store import MailStore
    from ...views.links import LinkIssuer


@dataclass(frozen=True)
class Letter:
    """One email to write: to whom, from which template pair, with what."""

    to: str
    template: str
    context: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


Composer = Callable[[MailJob], "Letter | None"]


class Letters:
    """A family of letters. Each reads what it needs from the store, issues the fresh private
    links its emails carry, and takes the site's and the API's addresses from the settings;
    `composers` names the mail job kinds it writes."""

    def __init__(self, store: MailStore, links: LinkIssuer, settings: Settings):
        self._store = store
        self._links = links
        self._settings = settings

    def composers(self) -> dict[str, Composer]:
        raise NotImplementedError
