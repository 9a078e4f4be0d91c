"""Every email the platform writes, as letters: a template pair and what it shows.

Each family takes the same (store, links, settings) and names the mail job kinds it writes;
`composers` puts them together for the mail worker (mail/dispatch.py), which sends each once.
Letters take what they show from the views and the store, never from a flow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .author import AuthorLetters
from .base import Composer, Letter, Letters
from .board import BoardLetters  # reports (issue 15)
from .change_check import ChangeCheckLetters
from .concern import ConcernLetters  # concerns about what is published (issue 16)
from .conversation import ConversationLetters
from .ladder import LadderLetters
from .organisation import OrganisationLetters
from .partner import PartnerLetters  # webhooks for partners (issue 21)
from .staff import StaffLetters
from .subscription import SubscriptionLetters

if TYPE_CHECKING:
    from ...core.settings import Settings
    from ...store import MailStore
    from ...views.links import LinkIssuer

FAMILIES: tuple[type[Letters], ...] = (
    AuthorLetters,
    StaffLetters,
    SubscriptionLetters,
    ConversationLetters,
    ChangeCheckLetters,
    LadderLetters,
    OrganisationLetters,
    BoardLetters,  # reports (issue 15)
    ConcernLetters,
    PartnerLetters,
)

__all__ = [
    "FAMILIES",
    "AuthorLetters",
    "BoardLetters",
    "ChangeCheckLetters",
    "ConcernLetters",
    "Composer",
    "ConversationLetters",
    "LadderLetters",
    "Letter",
    "Letters",
    "OrganisationLetters",
    "PartnerLetters",
    "StaffLetters",
    "SubscriptionLetters",
    "composers",
]


def composers(store: MailStore, links: LinkIssuer, settings: Settings) -> dict[str, Composer]:
    """Mail job kind -> the composer that writes its letter, for every family."""
    out: dict[str, Composer] = {}
    for family in FAMILIES:
        out |= family(store, links, settings).composers()
    return out
