"""Profiles of local and remote colleagues: `/@name`, `/@name@host`, their posts, followers
and following, follow and unfollow. The same addresses answer ActivityPub JSON to
`Accept: application/activity+json`, exactly as the actor and object URLs do."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from web import activitypub
from web.api.base import JSONResponse
from web.node import node_of
from web.ui.access import back, checked_form, flash, viewer
from web.ui.calls import Answer, api
from web.ui.i18n import translator
from web.ui.render import language, page
from web.ui.statuses import status_page

PAGE = 20


def _local_name(request: Request, acct: str) -> str | None:
    """The user name when `acct` names an account of this node, else None."""
    name, _, host = acct.partition("@")
    if not host or host.lower() == node_of(request).settings.domain.lower():
        return name
    return None


async def _activity(request: Request, answer: Any, **path: str) -> Response:
    """The ActivityPub answer for a page address (local accounts and statuses only)."""
    name = _local_name(request, request.path_params["acct"])
    if name is None:
        return JSONResponse({"error": "Record not found"}, status_code=404)
    request.scope["path_params"] = {"username": name, **path}
    response: Response = await answer(request)
    return response


async def _account(request: Request) -> Answer:
    acct = request.path_params["acct"]
    return await api(request, "GET", "/api/v1/accounts/lookup", query={"acct": acct})


def _missing(request: Request) -> Response:
    t = translator(language(request))
    return page(request, "error.html", status=404, message=t("This account does not exist."))


async def _relationship(request: Request, account_id: str) -> dict[str, Any]:
    answer = await api(
        request, "GET", "/api/v1/accounts/relationships", query={"id[]": [account_id]}
    )
    found = answer.data if answer.ok and answer.data else [{}]
    return dict(found[0])


async def profile(request: Request) -> Response:
    if activitypub.wants_activity(request):
        return await _activity(request, activitypub.actor)
    caller = await viewer(request)
    found = await _account(request)
    if not found.ok:
        return _missing(request)
    account = found.data
    max_id = request.query_params.get("max_id", "")
    posts = await api(
        request,
        "GET",
        "/api/v1/accounts/{id:int}/statuses",
        path={"id": int(account["id"])},
        query={"limit": str(PAGE), "max_id": max_id if max_id.isdigit() else None},
    )
    statuses = posts.data if posts.ok else []
    own = caller.account is not None and str(caller.account.id) == account["id"]
    all_lists: list[dict[str, Any]] = []
    member_of: list[str] = []
    if not own:
        found_lists = await api(request, "GET", "/api/v1/lists")
        all_lists = found_lists.data if found_lists.ok else []
        if all_lists:
            holding = await api(
                request, "GET", "/api/v1/accounts/{id}/lists", path={"id": account["id"]}
            )
            member_of = [item["id"] for item in holding.data] if holding.ok else []
    return page(
        request,
        "profile.html",
        nav="profile" if own else "",
        account=account,
        own=own,
        relationship={} if own else await _relationship(request, account["id"]),
        lists=all_lists,
        member_of=member_of,
        statuses=statuses,
        older=statuses[-1]["id"] if len(statuses) >= PAGE else None,
    )


async def status(request: Request) -> Response:
    if activitypub.wants_activity(request):
        return await _activity(
            request, activitypub.status_object, status_id=request.path_params["status_id"]
        )
    return await status_page(request)


async def connections(request: Request) -> Response:
    """Followers or following of an account."""
    await viewer(request)
    kind = "followers" if request.url.path.endswith("/followers") else "following"
    found = await _account(request)
    if not found.ok:
        return _missing(request)
    account = found.data
    listed = await api(
        request,
        "GET",
        f"/api/v1/accounts/{{id:int}}/{kind}",
        path={"id": int(account["id"])},
        query={"limit": "80"},
    )
    t = translator(language(request))
    title = t("Followers") if kind == "followers" else t("Following")
    return page(
        request,
        "accounts.html",
        title=f"{title}: {account['display_name'] or account['username']}",
        accounts=listed.data if listed.ok else [],
    )


RELATIONSHIP_ACTIONS = ("follow", "unfollow", "mute", "unmute", "block", "unblock")


async def relate(request: Request) -> Response:
    """Follow, unfollow, mute, unmute, block or unblock, as the API does it."""
    await viewer(request)
    form = await checked_form(request)
    action = request.url.path.rsplit("/", 1)[-1]
    found = await _account(request)
    if not found.ok:
        return _missing(request)
    route = f"/api/v1/accounts/{{id:int}}/{action}"
    answer = await api(request, "POST", route, path={"id": int(found.data["id"])})
    if not answer.ok:
        flash(request, answer.error)
    return back(form, f"/@{found.data['acct']}")


async def list_membership(request: Request) -> Response:
    """Add the account to one of the reader's lists, or take it off."""
    await viewer(request)
    form = await checked_form(request)
    found = await _account(request)
    if not found.ok:
        return _missing(request)
    list_id = str(form.get("list_id") or "")
    method = "DELETE" if form.get("remove") else "POST"
    if list_id.isdigit() and len(list_id) <= 19:
        answer = await api(
            request,
            method,
            "/api/v1/lists/{id}/accounts",
            path={"id": list_id},
            body={"account_ids": [found.data["id"]]},
        )
        if not answer.ok:
            flash(request, answer.error)
    return back({}, f"/@{found.data['acct']}")


routes: list[BaseRoute] = [
    Route("/@{acct}", profile, methods=["GET"]),
    Route("/@{acct}/followers", connections, methods=["GET"]),
    Route("/@{acct}/lists", list_membership, methods=["POST"]),
    Route("/@{acct}/following", connections, methods=["GET"]),
    *(Route(f"/@{{acct}}/{a}", relate, methods=["POST"]) for a in RELATIONSHIP_ACTIONS),
    Route("/@{acct}/{status_id}", status, methods=["GET"]),
]
