"""Discovery documents under /.well-known/ and what they point to: NodeInfo 2.0 and 2.1.

Readable without a signature or token. `software.name` stays "flurfunk"; `metadata.upstream`
names the Mastodon API version we speak, so that client libraries which switch on the software
name (megalodon answers "Unknown SNS" otherwise) recognise the API.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from models.settings import Settings
from web.api.base import ok
from web.api.errors import not_found
from web.api.instance import (
    MASTODON_API_VERSION,
    SOFTWARE_VERSION,
    TITLE,
    Usage,
    described,
    node_usage,
)
from web.node import node_of

SCHEMA = "http://nodeinfo.diaspora.software/ns/schema/{version}"
VERSIONS = ("2.0", "2.1")


async def discovery(request: Request) -> Response:
    settings = node_of(request).settings
    return ok(
        {
            "links": [
                {"rel": SCHEMA.format(version=v), "href": settings.url(f"/nodeinfo/{v}")}
                for v in VERSIONS
            ]
        }
    )


def nodeinfo_document(
    settings: Settings, usage: Usage, version: str, name: str = TITLE, description: str = ""
) -> dict[str, Any]:
    software: dict[str, Any] = {"name": "flurfunk", "version": SOFTWARE_VERSION}
    if version == "2.1":  # 2.0's schema allows no other software fields
        software["homepage"] = settings.url("/")
    return {
        "version": version,
        "software": software,
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": []},
        "openRegistrations": settings.registrations_open,
        "usage": {
            "users": {
                "total": usage.users,
                "activeMonth": usage.active_month,
                "activeHalfyear": usage.active_halfyear,
            },
            "localPosts": usage.local_posts,
        },
        "metadata": {
            "nodeName": name,
            "nodeDescription": description or f"Flurfunk node {settings.domain}",
            "upstream": {"name": "mastodon", "version": MASTODON_API_VERSION},
        },
    }


async def nodeinfo(request: Request) -> Response:
    version = request.path_params["version"]
    if version not in VERSIONS:
        raise not_found()
    node = node_of(request)
    async with node.db.read() as session:
        usage = await node_usage(session)
        about = await described(session, node.settings)
    profile = SCHEMA.format(version=version) + "#"
    document = nodeinfo_document(node.settings, usage, version, about.title, about.description)
    response = ok(document)
    response.headers["Content-Type"] = f'application/json; profile="{profile}"'
    return response


routes = [
    Route("/.well-known/nodeinfo", discovery),
    Route("/nodeinfo/{version:str}", nodeinfo),
]
