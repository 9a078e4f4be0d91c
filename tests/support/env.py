"""What every in-process test world shares: the site's and API's addresses and the moto session."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from local.resources import REGION, Resources

SITE_URL = "https://site.test"
API_URL = "https://api.test"


@dataclass
class AwsEnv:
    session: Any
    resources: Resources

    def client(self, name: str) -> Any:
        return self.session.client(name, region_name=REGION)
