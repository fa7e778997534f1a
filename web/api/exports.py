"""`POST /api/v1/flurfunk/exports`: the investigation export of one account or one local
group (permission `export_data`, audited), answered as the zip itself (`application/zip`) —
the same file as `flurfunk export account|group`. Parameters: `account` (NAME or NAME@HOST)
or `group` (NAME; `account=group:NAME` means the same), optional `since` and `until`
(ISO 8601). The zip is written to a temporary file under DATA_DIR and removed once
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
from outbox.legal_holds import GROUP_PREFIX
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
    group = c.params.text("group", "", max_length=320) or ""
    if target and group:
        raise validation("give account or group, not both")
    if target[: len(GROUP_PREFIX)].lower() == GROUP_PREFIX:
        group = target[len(GROUP_PREFIX) :]
        if not group:
            raise validation("group is missing (group:NAME)")
    if not target and not group:
        raise validation("account is missing (NAME or NAME@HOST; or group: NAME)")
    exporter = investigation.export_group if group else investigation.export_account
    since, until = _instant(c, "since"), _instant(c, "until")
    window = Window(since, until)
    folder = c.node.settings.data_dir / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"export-{secrets.token_hex(8)}.zip"
    try:
        await exporter(c.node.db, c.node.settings, who, group or target, window, out)
    except AdminError as exc:
        out.unlink(missing_ok=True)
        raise ApiError(exc.status, str(exc)) from None
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    name = f"group-{group}" if group else target
    name = name.lstrip("@").replace("@", "_").replace("/", "_").replace(":", "_")
    return FileResponse(
        out,
        media_type="application/zip",
        filename=f"export-{name}.zip",
        background=BackgroundTask(out.unlink, missing_ok=True),
    )


routes: list[BaseRoute] = [Route(HERE, export, methods=["POST"])]
