"""WebFinger and host-meta: how other nodes find `user@this-node` (no signature needed)."""

from __future__ import annotations

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from models.account import Account
from web.api.base import JSONResponse
from web.node import node_of

JRD = "application/jrd+json; charset=utf-8"


def _not_found() -> Response:
    return JSONResponse({"error": "Record not found"}, status_code=404)


async def webfinger(request: Request) -> Response:
    settings = node_of(request).settings
    resource = request.query_params.get("resource", "")
    if resource.startswith("acct:"):
        name, _, domain = resource[5:].lstrip("@").partition("@")
        if domain.lower() != settings.domain.lower():
            return _not_found()
    elif resource.startswith(settings.url("/users/")):
        name = resource[len(settings.url("/users/")) :]
    elif resource.startswith(settings.url("/@")):
        name = resource[len(settings.url("/@")) :]
    else:
        return JSONResponse(
            {"error": "resource must be acct:user@host or an actor URL"},
            status_code=400 if not resource else 404,
        )
    async with node_of(request).db.read() as session:
        account = (
            await session.execute(
                select(Account).where(
                    func.lower(Account.username) == name.lower(),
                    Account.domain.is_(None),
                    Account.suspended_at.is_(None),
                )
            )
        ).scalar_one_or_none()
    if account is None:
        return _not_found()
    actor = settings.url(f"/users/{account.username}")
    document = {
        "subject": f"acct:{account.username}@{settings.domain}",
        "aliases": [actor, settings.url(f"/@{account.username}")],
        "links": [
            {"rel": "self", "type": "application/activity+json", "href": actor},
            {
                "rel": "http://webfinger.net/rel/profile-page",
                "type": "text/html",
                "href": settings.url(f"/@{account.username}"),
            },
        ],
    }
    return JSONResponse(document, headers={"content-type": JRD})


async def host_meta(request: Request) -> Response:
    template = node_of(request).settings.url("/.well-known/webfinger?resource={uri}")
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">\n'
        f'  <Link rel="lrdd" template="{template}"/>\n</XRD>\n'
    )
    return Response(xml, media_type="application/xrd+xml")


routes = [
    Route("/.well-known/webfinger", webfinger),
    Route("/.well-known/host-meta", host_meta),
]
