"""What every in-process test world shares: the site's and API's addresses and the moto session."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from local.resources import REGION, Resources

SITE_URL = "https://site.test"
API_URL = "https://api.test"


class SharedSession:
    """A test worker's one boto3 session, each of whose clients is made once and kept.

    Making a session and a client costs milliseconds each, and every in-process test made a session and a
    dozen clients (the pump's three, its own checks'): about 20 ms a test. moto intercepts every client,
    whenever made, while a mock is active. Nothing registers handlers on these clients (the app's own come
    from chalicelib.core.aws and are made afresh each test); a test that patches one uses monkeypatch,
    which puts it back."""

    def __init__(self, session: Any):
        self._session = session
        self._clients: dict[tuple[str, str | None], Any] = {}

    def client(self, service: str, region_name: str | None = None, **kwargs: Any) -> Any:
        if kwargs:  # a client with settings of its own is made as asked
            return self._session.client(service, region_name=region_name, **kwargs)
        key = (service, region_name)
        if key not in self._clients:
            self._clients[key] = self._session.client(service, region_name=region_name)
        return self._clients[key]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


@dataclass
class AwsEnv:
    session: Any
    resources: Resources

    def client(self, name: str) -> Any:
        return self.session.client(name, region_name=REGION)
