"""Talking SCIM to a running node as a company directory would: a token from
`flurfunk scim token`, and scim2-client (which scim2-tester drives) over plain httpx."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import httpx
from scim2_client import BaseSyncSCIMClient
from scim2_client.client import RawResponse

from models import admin
from models.db import Database
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


class FreshNames(list[str]):
    """Examples that scim2-tester picks from (random.choice): a new name at each pick, within
    the node's rules (user names of at most 30 characters, display names of at most 30)."""

    def __init__(self, prefix: str) -> None:
        super().__init__([prefix])
        self.prefix = prefix

    def __getitem__(self, index: Any) -> Any:
        return f"{self.prefix}{secrets.token_hex(5)}"


def audit(node: RunningNode) -> list[tuple[str, str, str]]:
    """(operator, action, target) of the node's audit log, newest first."""

    async def read() -> list[tuple[str, str, str]]:
        db = Database(node.database_url)
        try:
            async with db.read() as session:
                entries = await admin.audit_log(session, limit=500)
                return [(e.operator, e.action, e.target) for e in entries]
        finally:
            await db.dispose()

    return asyncio.run(read())


def user_body(name: str, **more: Any) -> dict[str, Any]:
    return {"schemas": [USER_SCHEMA], "userName": name, **more}


def patch_body(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_SCHEMA], "Operations": list(operations)}


def find_id(client: httpx.Client, user_name: str) -> str:
    """The SCIM id of a user, looked up as directories do: filter userName eq."""
    found = client.get("/Users", params={"filter": f'userName eq "{user_name}"'}).json()
    assert found["totalResults"] == 1, found
    return str(found["Resources"][0]["id"])


def is_error(answer: httpx.Response, status: int, scim_type: str | None = None) -> None:
    """A SCIM error body (RFC 7644 §3.12) with this status (and scimType)."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith(SCIM_TYPE)
    body = answer.json()
    assert body["schemas"] == [ERROR_SCHEMA]
    assert body["status"] == str(status)
    assert body.get("detail")
    if scim_type is not None:
        assert body.get("scimType") == scim_type, body
