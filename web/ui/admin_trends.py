"""`/admin/trends`: what trends on this node, with the admins' verdicts. Staff see the list;
admins approve an item (needed before it shows when TRENDS_REVIEW is on) or hide it (it never
shows, whatever later computations find). Each verdict is written to the audit log."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from models.discovery import TREND_KINDS, TrendItem, verdicts
from models.tables import Account, Status
from web.api.trends import review_item
from web.node import node_of
from web.ui.access import back, checked_form, flash, operator_of, staff
from web.ui.i18n import translator
from web.ui.render import language, page

SHOWN = 50
EXCERPT = 160
_TAGS = re.compile(r"<[^>]*>")
ACTIONS = {"approve": "approved", "reject": "rejected"}


@dataclass(frozen=True)
class Row:
    kind: str
    item_id: int
    title: str
    link: str
    accounts: int
    uses: int
    verdict: str | None


async def _rows(request: Request, kind: str) -> list[Row]:
    async with node_of(request).db.read() as session:
        items = (
            (
                await session.execute(
                    select(TrendItem)
                    .where(TrendItem.kind == kind)
                    .order_by(TrendItem.rank)
                    .limit(SHOWN)
                )
            )
            .scalars()
            .all()
        )
        judged = await verdicts(session, kind)
        posts: dict[int, tuple[str, str]] = {}
        if kind == "status":
            found = await session.execute(
                select(Status.id, Status.content, Account.username, Account.domain)
                .join(Account, Account.id == Status.account_id)
                .where(Status.id.in_([i.item_id for i in items]))
            )
            for status_id, content, username, domain in found:
                who = username if domain is None else f"{username}@{domain}"
                text = " ".join(_TAGS.sub(" ", content).split())[:EXCERPT]
                posts[status_id] = (f"@{who}: {text}", f"/@{who}/{status_id}")
    rows = []
    for i in items:
        if kind == "tag":
            title, link = f"#{i.label}", f"/tags/{i.label}"
        elif kind == "link":
            title, link = i.label, i.label
        else:
            title, link = posts.get(i.item_id, (str(i.item_id), ""))
        rows.append(Row(kind, i.item_id, title, link, i.accounts, i.uses, judged.get(i.item_id)))
    return rows


async def trends_page(request: Request) -> Response:
    caller = await staff(request)
    assert caller.user is not None
    return page(
        request,
        "admin_trends.html",
        nav="admin",
        section="trends",
        kinds=[(kind, await _rows(request, kind)) for kind in TREND_KINDS],
        review=node_of(request).settings.trends_review,
        is_admin=operator_of(request).may("manage_node"),
    )


async def review(request: Request) -> Response:
    caller = await staff(request, "manage_node")
    await checked_form(request)
    assert caller.account is not None
    kind = str(request.path_params["kind"])
    action = str(request.path_params["action"])
    raw_id = str(request.path_params["item_id"])
    if kind not in TREND_KINDS or action not in ACTIONS or not raw_id.isdigit() or len(raw_id) > 19:
        raise HTTPException(404)
    t = translator(language(request))
    async with node_of(request).db.write() as session:
        item = await review_item(
            session, kind, int(raw_id), ACTIONS[action], caller.account.username, caller.account.id
        )
    if item is None:
        flash(request, t("Nothing changed."))
    elif action == "approve":
        flash(request, t("Approved: it may trend."))
    else:
        flash(request, t("Hidden: it will not trend."))
    return back({}, "/admin/trends")


routes: list[BaseRoute] = [
    Route("/admin/trends", trends_page, methods=["GET"]),
    Route("/admin/trends/{kind}/{item_id}/{action}", review, methods=["POST"]),
]
