"""`/settings/data`: a person's own data — request the archive (Mastodon's format, prepared
in the background: outbox.personal_archive) and download it; import follows, blocks, mutes
and bookmarks from Mastodon's CSV files.

An import reads and checks the whole file first (outbox.csv_import: a bad file changes
nothing), then stores it as a job (outbox.csv_import_jobs) and answers at once: the rows are
applied in the background (inbox.csv_import_run), and this page shows how far each import
has come.
"""

from __future__ import annotations

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from outbox import csv_import, csv_import_jobs, personal_archive
from web.api.policy_gate import check_policy_accepted
from web.node import node_of
from web.ui.access import back, checked_form, flash, viewer
from web.ui.errors import not_found_page
from web.ui.i18n import plural_translator, translator
from web.ui.render import language, page

HERE = "/settings/data"


async def show(request: Request) -> Response:
    caller = await viewer(request)
    assert caller.account is not None
    async with node_of(request).db.read() as session:
        latest = await personal_archive.latest(session, caller.account.id)
        imports = await csv_import_jobs.recent(session, caller.account.id)
    t = translator(language(request))
    kind_names = {
        "following": t("Follows"),
        "blocks": t("Blocks"),
        "mutes": t("Mutes"),
        "bookmarks": t("Bookmarks"),
    }
    return page(
        request,
        "your_data.html",
        nav="settings",
        archive=latest,
        kinds=csv_import.KINDS,
        imports=imports,
        kind_names=kind_names,
    )


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


async def import_csv(request: Request) -> Response:
    caller = await viewer(request)
    assert caller.account is not None
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
    if kind == "following":
        # Following is interacting, gated like the follow button (the rows are applied in
        # the background, where no request could be sent to the policy page).
        await check_policy_accepted(request)
    async with node_of(request).db.write() as session:
        try:
            await csv_import_jobs.start(session, caller.account.id, kind, rows)
        except csv_import_jobs.ImportBusy:
            flash(request, t("Nothing was imported: your last import is still running."))
            return back(form, HERE)
    tn = plural_translator(language(request))
    flash(request, tn("Import started: %(num)s row.", "Import started: %(num)s rows.", len(rows)))
    return back(form, HERE)


routes: list[BaseRoute] = [
    Route(HERE, show, methods=["GET"]),
    Route(HERE + "/archive", request_archive, methods=["POST"]),
    Route(HERE + "/archive/{archive_id}", download, methods=["GET"]),
    Route(HERE + "/import", import_csv, methods=["POST"]),
]
