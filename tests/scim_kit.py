"""Talking SCIM to a running node as a company directory would: a token from
`flurfunk scim token`, and scim2-client (which scim2-tester drives) over plain httpx."""

from __future__ import annotations

from typing import Any

import httpx
from scim2_client import BaseSyncSCIMClient
from scim2_client.client import RawResponse

from tests.kit import RunningNode

SCIM_TYPE = "application/scim+json"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


def scim_token(node: RunningNode, label: str = "directory") -> str:
    """A new directory token: the last line `flurfunk scim token` prints."""
    return node.cli("scim", "token", "--name", label).stdout.strip().splitlines()[-1]


def directory(node: RunningNode, token: str) -> httpx.Client:
    """An HTTP client that calls /scim/v2 as the directory does."""
    return httpx.Client(
        base_url=node.url + "/scim/v2",
        headers={"Authorization": f"Bearer {token}", "Content-Type": SCIM_TYPE},
        timeout=30,
    )


class HttpxSCIMClient(BaseSyncSCIMClient):
    """scim2-client's network engine, on httpx (its own needs the httpx2 fork)."""

    def __init__(self, client: httpx.Client, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.client = client

    def _stays_under_base_url(self, endpoint: str) -> bool:
        url = self.client.build_request("GET", endpoint).url
        base = self.client.base_url
        return url.host == base.host and url.port == base.port and url.path.startswith(base.path)

    def _parse_json(self, response: RawResponse) -> Any:
        assert isinstance(response, httpx.Response)
        return response.json()

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.client.request(method, url, **kwargs)
