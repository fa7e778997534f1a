"""`POST /api/v1/flurfunk/exports`: the investigation export of one account (permission
`export_data`, audited), answered as the zip itself (`application/zip`) — the same file as
`flurfunk export account`. Parameters: `account` (NAME or NAME@HOST), optional `since` and
`until` (ISO 8601). The zip is written to a temporary file under DATA_DIR and removed once
sent, so a large export never sits in memory."""

from __future__ import annotations

import secrets
from datetime import datetime

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from outbox import investigation
from outbox.archive import Window
from outbox.permissions import AdminError, require
from outbox.retention import parse_instant
from web.api.base import Call, call
from web.api.errors import ApiError, validation
from web.api.roles import operator

HERE = "/api/v1/flurfunk/exports"


def _instant(c: Call, name: str) -> datetime | None:
    text = c.params.text(name, "", max_length=64) or ""
    if not text:
        return None
    try:
        return parse_instant(text, name)
    except AdminError as exc:
        raise validation(str(exc)) from None


async def export(request: Request) -> Response:
    c = await call(request, "admin:read")
    who = await operator(c)
    try:
        require(who, "export_data")
    except AdminError as exc:
        raise ApiError(exc.status, str(exc)) from None
    target = c.params.text("account", "", max_length=320) or ""
    if not target:
        raise validation("account is missing (NAME or NAME@HOST)")
    since, until = _instant(c, "since"), _instant(c, "until")
    window = Window(since, until)
    folder = c.node.settings.data_dir / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"export-{secrets.token_hex(8)}.zip"
    try:
        await investigation.export_account(c.node.db, c.node.settings, who, target, window, out)
    except AdminError as exc:
        out.unlink(missing_ok=True)
        raise ApiError(exc.status, str(exc)) from None
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    name = target.lstrip("@").replace("@", "_").replace("/", "_")
    return FileResponse(
        out,
        media_type="application/zip",
        filename=f"export-{name}.zip",
        background=BackgroundTask(out.unlink, missing_ok=True),
    )


routes: list[BaseRoute] = [Route(HERE, export, methods=["POST"])]
