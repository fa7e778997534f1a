"""Group pages: `/groups` (my groups, and the others I may see, with a form to create one)
and `/groups/NAME` (posts, members, join or leave, a composer that posts into the group;
moderators also remove members and posts and decide on join requests). Everything goes
through the group API and Mastodon's API, as an app would."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from web.ui.access import back, checked_form, flash, viewer
from web.ui.calls import api
from web.ui.i18n import translator
from web.ui.render import composer_reminder, language, page

GROUP = "/api/v1/flurfunk/groups/{group}"


async def groups_page(request: Request) -> Response:
    await viewer(request)
    answer = await api(request, "GET", "/api/v1/flurfunk/groups")
    found: list[dict[str, Any]] = answer.data if answer.ok else []
    mine = [g for g in found if g["role"] not in (None, "invited")]
    others = [g for g in found if g["role"] in (None, "invited")]
    return page(request, "groups.html", nav="groups", mine=mine, others=others)


async def create_group(request: Request) -> Response:
    await viewer(request)
    form = await checked_form(request)
    body = {
        key: str(form.get(key) or "").strip()
        for key in ("name", "title", "description", "visibility", "join", "posting")
    }
    answer = await api(request, "POST", "/api/v1/flurfunk/groups", body=body)
    if not answer.ok:
        flash(request, answer.error)
        return back({}, "/groups")
    return back({}, f"/groups/{answer.data['name']}")


async def group_page(request: Request) -> Response:
    caller = await viewer(request)
    name = request.path_params["name"]
    found = await api(request, "GET", GROUP, path={"group": name})
    if not found.ok:
        return await _closed_group(request, name)
    group = found.data
    members = await api(request, "GET", GROUP + "/members", path={"group": name})
    posts = await api(
        request,
        "GET",
        "/api/v1/accounts/{id:int}/statuses",
        path={"id": int(group["id"])},
        query={"limit": "20"},
    )
    moderating = group["role"] in ("owner", "moderator")
    waiting = (
        await api(request, "GET", GROUP + "/join_requests", path={"group": name})
        if moderating
        else None
    )
    relationship = await api(
        request, "GET", "/api/v1/accounts/relationships", query={"id[]": [group["id"]]}
    )
    return page(
        request,
        "group.html",
        nav="groups",
        group=group,
        me_id=str(caller.account.id) if caller.account else "",
        members=members.data if members.ok else [],
        statuses=posts.data if posts.ok else [],
        moderating=moderating,
        join_requests=waiting.data if waiting is not None and waiting.ok else [],
        relationship=relationship.data[0] if relationship.ok and relationship.data else {},
        confidentiality_reminder=await composer_reminder(request),
    )


async def _closed_group(request: Request, name: str) -> Response:
    """A members-only group seen from outside: its name and a way to ask to join, no more."""
    account = await api(request, "GET", "/api/v1/accounts/lookup", query={"acct": name})
    if not account.ok or not account.data.get("group"):
        t = translator(language(request))
        return page(request, "error.html", status=404, message=t("This group does not exist."))
    relationship = await api(
        request, "GET", "/api/v1/accounts/relationships", query={"id[]": [account.data["id"]]}
    )
    group = {
        "id": account.data["id"],
        "name": account.data["username"],
        "acct": account.data["acct"],
        "title": account.data["display_name"],
        "description": "",
        "visibility": "members",
        "members_count": None,
        "role": None,
    }
    return page(
        request,
        "group.html",
        nav="groups",
        group=group,
        me_id="",
        members=[],
        statuses=[],
        moderating=False,
        join_requests=[],
        relationship=relationship.data[0] if relationship.ok and relationship.data else {},
        confidentiality_reminder="",
    )


async def _group_id(request: Request, name: str) -> str | None:
    found = await api(request, "GET", "/api/v1/accounts/lookup", query={"acct": name})
    return str(found.data["id"]) if found.ok and found.data.get("group") else None


async def membership(request: Request) -> Response:
    """Join or leave (follow or unfollow the group account)."""
    await viewer(request)
    form = await checked_form(request)
    name = request.path_params["name"]
    group_id = await _group_id(request, name)
    if group_id is not None:
        action = "follow" if request.url.path.endswith("/join") else "unfollow"
        route = f"/api/v1/accounts/{{id:int}}/{action}"
        answer = await api(request, "POST", route, path={"id": int(group_id)})
        if not answer.ok:
            flash(request, answer.error)
    return back(form, f"/groups/{name}")


async def moderate(request: Request) -> Response:
    """Remove a member or a post, or decide on a join request."""
    await viewer(request)
    form = await checked_form(request)
    name, kind = request.path_params["name"], request.path_params["kind"]
    target = str(form.get("id") or "")
    routes = {
        "remove-member": ("DELETE", GROUP + "/members/{account_id}"),
        "remove-post": ("DELETE", GROUP + "/statuses/{status_id}"),
        "authorize": ("POST", GROUP + "/join_requests/{account_id}/authorize"),
        "reject": ("POST", GROUP + "/join_requests/{account_id}/reject"),
    }
    if kind in routes and target.isdigit() and len(target) <= 19:
        method, route = routes[kind]
        path = {"group": name, "account_id": target, "status_id": target}
        answer = await api(request, method, route, path=path)
        if not answer.ok:
            flash(request, answer.error)
    return back(form, f"/groups/{name}")


routes: list[BaseRoute] = [
    Route("/groups", groups_page, methods=["GET"]),
    Route("/groups", create_group, methods=["POST"]),
    Route("/groups/{name}", group_page, methods=["GET"]),
    Route("/groups/{name}/join", membership, methods=["POST"]),
    Route("/groups/{name}/leave", membership, methods=["POST"]),
    Route("/groups/{name}/moderate/{kind}", moderate, methods=["POST"]),
]
