"""`/settings`: the profile (through the API's update_credentials), the language of the
pages, the password, and the browser sessions that are signed in."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from models.base import utcnow
from models.tables import BrowserSession, User
from outbox.app_access import apps_with_access, revoke_app
from outbox.browser_sessions import end_sessions
from web.auth import check_password, hash_password
from web.node import node_of
from web.ui.access import back, checked_form, flash, viewer
from web.ui.calls import api
from web.ui.i18n import LANGUAGES, translator
from web.ui.render import PREFERRED_LANGUAGE, language, page
from web.ui.session import SESSION_LIFETIME, WEB_APP_NAME, browser_session_id

PROFILE_FIELDS = 4
MIN_PASSWORD = 8
MAX_PASSWORD = 1024


async def show(request: Request) -> Response:
    caller = await viewer(request)
    assert caller.account is not None
    me = await api(request, "GET", "/api/v1/accounts/verify_credentials")
    account = me.data if me.ok else {}
    source = account.get("source", {})
    fields = list(source.get("fields", []))
    fields += [{"name": "", "value": ""}] * (PROFILE_FIELDS - len(fields))
    async with node_of(request).db.read() as session:
        sessions = (
            await session.execute(
                select(BrowserSession)
                .where(
                    BrowserSession.account_id == caller.account.id,
                    BrowserSession.ended_at.is_(None),
                    BrowserSession.created_at > utcnow() - SESSION_LIFETIME,
                )
                .order_by(BrowserSession.id.desc())
            )
        ).scalars()
        signed_in = list(sessions)
        apps = await apps_with_access(session, caller.account.id, leave_out=WEB_APP_NAME)
    chosen = ((caller.user.preferences if caller.user else None) or {}).get(PREFERRED_LANGUAGE, "")
    return page(
        request,
        "settings.html",
        nav="settings",
        account=account,
        source=source,
        fields=fields[:PROFILE_FIELDS],
        chosen_language=chosen,
        sessions=signed_in,
        apps=apps,
        this_session=browser_session_id(request),
    )


def _profile_body(form: FormData) -> dict[str, Any]:
    body: dict[str, Any] = {
        "display_name": str(form.get("display_name") or ""),
        "note": str(form.get("note") or ""),
        "locked": "true" if form.get("locked") else "false",
        "discoverable": "true" if form.get("discoverable") else "false",
        "source[privacy]": str(form.get("privacy") or "public"),
    }
    names, values = form.getlist("field_name"), form.getlist("field_value")
    for index, (name, value) in enumerate(zip(names, values, strict=False)):
        body[f"fields_attributes[{index}][name]"] = str(name)
        body[f"fields_attributes[{index}][value]"] = str(value)
    return body


async def save_profile(request: Request) -> Response:
    await viewer(request)
    form = await checked_form(request)
    t = translator(language(request))
    files = {
        kind: upload
        for kind in ("avatar", "header")
        if isinstance(upload := form.get(kind), UploadFile) and upload.filename
    }
    answer = await api(
        request,
        "PATCH",
        "/api/v1/accounts/update_credentials",
        body=_profile_body(form),
        files=files,
    )
    flash(request, t("Saved.") if answer.ok else t("Not saved: %(reason)s", reason=answer.error))
    return back({}, "/settings")


async def save_language(request: Request) -> Response:
    caller = await viewer(request)
    assert caller.account is not None
    form = await checked_form(request)
    chosen = str(form.get("language") or "")
    async with node_of(request).db.write() as session:
        user = await session.get(User, caller.account.id)
        assert user is not None
        preferences = dict(user.preferences or {})
        if chosen in LANGUAGES:
            preferences[PREFERRED_LANGUAGE] = chosen
        else:
            preferences.pop(PREFERRED_LANGUAGE, None)
        user.preferences = preferences
    t = translator(chosen if chosen in LANGUAGES else language(request, ""))
    flash(request, t("Saved."))
    return back({}, "/settings")


async def change_password(request: Request) -> Response:
    caller = await viewer(request)
    assert caller.account is not None
    form = await checked_form(request)
    t = translator(language(request))
    current = str(form.get("current_password") or "")
    new = str(form.get("new_password") or "")
    if new != str(form.get("confirm_password") or ""):
        flash(request, t("The new passwords do not match."))
        return back({}, "/settings")
    if not MIN_PASSWORD <= len(new) <= MAX_PASSWORD:
        flash(request, t("The new password needs at least %(count)s characters.", count=8))
        return back({}, "/settings")
    async with node_of(request).db.write() as session:
        user = await session.get(User, caller.account.id)
        assert user is not None
        if not check_password(user.password_hash, current):
            flash(request, t("The current password is wrong."))
            return back({}, "/settings")
        user.password_hash = hash_password(new)
        # Whoever else holds a session of this account loses it with the old password.
        await end_sessions(session, caller.account.id, keep=browser_session_id(request))
    flash(request, t("Password changed. Other browser sessions were signed out."))
    return back({}, "/settings")


async def end_other_sessions(request: Request) -> Response:
    caller = await viewer(request)
    assert caller.account is not None
    await checked_form(request)
    async with node_of(request).db.write() as session:
        await end_sessions(session, caller.account.id, keep=browser_session_id(request))
    t = translator(language(request))
    flash(request, t("Other browser sessions were signed out."))
    return back({}, "/settings")


async def revoke(request: Request) -> Response:
    caller = await viewer(request)
    assert caller.account is not None
    await checked_form(request)
    app_id = str(request.path_params["app_id"])
    if app_id.isdigit() and len(app_id) <= 19:
        async with node_of(request).db.write() as session:
            await revoke_app(session, caller.account.id, int(app_id))
        t = translator(language(request))
        flash(request, t("Access revoked."))
    return back({}, "/settings")


routes: list[BaseRoute] = [
    Route("/settings", show, methods=["GET"]),
    Route("/settings/profile", save_profile, methods=["POST"]),
    Route("/settings/language", save_language, methods=["POST"]),
    Route("/settings/password", change_password, methods=["POST"]),
    Route("/settings/sessions", end_other_sessions, methods=["POST"]),
    Route("/settings/apps/{app_id}/revoke", revoke, methods=["POST"]),
]
