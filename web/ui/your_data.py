"""`/settings/data`: a person's own data — request the archive (Mastodon's format, prepared
in the background: outbox.personal_archive) and download it; import follows, blocks, mutes
and bookmarks from Mastodon's CSV files.

An import reads and checks the whole file first (outbox.csv_import: a bad file changes
nothing), then goes through the client API's own endpoints in-process, row by row: accounts
and posts on other nodes are looked up the normal way (search with resolve) and follows of
remote accounts go through the normal follow path.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from outbox import csv_import, personal_archive
from web.node import node_of
from web.ui.access import back, checked_form, flash, viewer
from web.ui.calls import api
from web.ui.errors import not_found_page
from web.ui.i18n import translator
from web.ui.render import language, page

HERE = "/settings/data"


async def show(request: Request) -> Response:
    caller = await viewer(request)
    assert caller.account is not None
    async with node_of(request).db.read() as session:
        latest = await personal_archive.latest(session, caller.account.id)
    return page(request, "your_data.html", nav="settings", archive=latest, kinds=csv_import.KINDS)


async def request_archive(request: Request) -> Response:
    caller = await viewer(request)
    assert caller.account is not None
    form = await checked_form(request)
    async with node_of(request).db.write() as session:
        await personal_archive.request_archive(session, caller.account.id)
    t = translator(language(request))
    flash(request, t("Your archive is being prepared. Reload this page in a moment."))
    return back(form, HERE)


async def download(request: Request) -> Response:
    caller = await viewer(request)
    assert caller.account is not None
    node = node_of(request)
    async with node.db.read() as session:
        latest = await personal_archive.latest(session, caller.account.id)
    wanted = str(request.path_params["archive_id"])
    path = None
    if latest is not None and str(latest.id) == wanted and latest.state == "ready":
        path = personal_archive.archive_path(node.settings, latest)
    if path is None or not path.is_file():
        return await not_found_page(request)
    name = f"archive-{caller.account.username}-{latest.created_at:%Y%m%d}.zip"  # type: ignore[union-attr]
    return FileResponse(path, media_type="application/zip", filename=name)


async def _account_id(request: Request, address: str) -> str | None:
    found = await api(
        request,
        "GET",
        "/api/v2/search",
        query={"q": "@" + address, "resolve": "true", "type": "accounts", "limit": "5"},
    )
    if not found.ok:
        return None
    for account in found.data.get("accounts", []):
        if str(account.get("acct", "")).lower() in (address.lower(), address.split("@")[0].lower()):
            return str(account["id"])
    return None


async def _status_id(request: Request, url: str) -> str | None:
    found = await api(
        request, "GET", "/api/v2/search", query={"q": url, "resolve": "true", "type": "statuses"}
    )
    statuses = found.data.get("statuses", []) if found.ok else []
    return str(statuses[0]["id"]) if statuses else None


async def _apply(request: Request, kind: str, row: csv_import.Row) -> bool:
    if kind == "bookmarks":
        status_id = await _status_id(request, row.target)
        if status_id is None:
            return False
        done = await api(request, "POST", "/api/v1/statuses/{id}/bookmark", path={"id": status_id})
        return done.ok
    account_id = await _account_id(request, row.target)
    if account_id is None:
        return False
    action, body = {
        "following": ("follow", {"reblogs": row.reblogs, "notify": row.notify}),
        "blocks": ("block", {}),
        "mutes": ("mute", {"notifications": row.notifications}),
    }[kind]
    body_of: dict[str, Any] = body
    done = await api(
        request,
        "POST",
        f"/api/v1/accounts/{{id:int}}/{action}",
        path={"id": int(account_id)},
        body=body_of,
    )
    return done.ok


async def import_csv(request: Request) -> Response:
    await viewer(request)
    form = await checked_form(request)
    t = translator(language(request))
    kind = str(form.get("kind") or "")
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        flash(request, t("Choose a CSV file to import."))
        return back(form, HERE)
    data = await upload.read(csv_import.MAX_BYTES + 1)
    try:
        rows = csv_import.parse(kind, data)
    except csv_import.ImportProblem as exc:
        flash(request, t("Nothing was imported: %(reason)s", reason=str(exc)))
        return back(form, HERE)
    missed = [row.target for row in rows if not await _apply(request, kind, row)]
    done = len(rows) - len(missed)
    message = t("Imported %(done)s of %(total)s.", done=done, total=len(rows))
    if missed:
        message += " " + t("Not found: %(names)s", names=", ".join(missed[:20]))
    flash(request, message)
    return back(form, HERE)


routes: list[BaseRoute] = [
    Route(HERE, show, methods=["GET"]),
    Route(HERE + "/archive", request_archive, methods=["POST"]),
    Route(HERE + "/archive/{archive_id}", download, methods=["GET"]),
    Route(HERE + "/import", import_csv, methods=["POST"]),
]
