"""`/auth/oidc` and its callback: signing in with the company account (web/oidc.py).

`/auth/oidc?next=…` remembers a fresh state, nonce and PKCE verifier in the signed session
and sends the browser to the provider; `/auth/oidc/callback` checks them, redeems the code,
finds, links or creates the account (outbox.sign_on) and starts a session. A refused
sign-in answers a page that says why; it writes nothing and starts no session.
"""

from __future__ import annotations

import logging
import re
import secrets
from typing import Any

import orjson
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from models.settings import Settings
from outbox.accounts import USERNAME
from outbox.sign_on import Identity, SignOnRefused, sign_in_identity
from web.node import node_of
from web.oidc import OpenIDClient, Pending, ProviderUnavailable, SignOnProblem
from web.ui.i18n import N_, translator
from web.ui.render import language, page
from web.ui.session import safe_next, sign_in

log = logging.getLogger("flurfunk.sign_on")

PENDING_KEY = "oidc"
PENDING_KEPT = 5  # sign-ins started in other tabs stay valid, up to this many
PENDING_BYTES = 2000  # and up to this size in the session cookie
MAX_NEXT = 1200  # a longer page to come back to is replaced by the start page
MAX_PARAM = 2048
MAX_USERNAME = 30
MAX_GROUPS = 1000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# Every reason a sign-in is refused, as the person reads it.
REASONS = {
    # the provider
    "unreachable": N_("The company sign-in at %(issuer)s cannot be reached (%(error)s)."),
    "foreign_endpoint": N_(
        "The company sign-in sends this node to %(url)s, which is not on the issuer's host."
    ),
    "not_json": N_("The company sign-in answered nonsense at %(url)s."),
    "no_discovery": N_(
        "The company sign-in's discovery document %(url)s cannot be used (%(status)s)."
    ),
    "no_keys": N_("The company sign-in's signing keys cannot be read."),
    "discovery_issuer": N_(
        "The company sign-in calls itself %(named)s, but this node expects %(issuer)s."
    ),
    "code_used": N_(
        "The company sign-in refused the sign-in code: it was used already or has "
        "expired. Please start again."
    ),
    "token_refused": N_("The company sign-in refused to complete the sign-in (%(error)s)."),
    "no_id_token": N_("The company sign-in sent no ID token."),
    "userinfo_subject": N_(
        "The company sign-in's user information names another person than its ID token."
    ),
    # the ID token
    "bad_signature": N_("The ID token's signature does not match the company sign-in's keys."),
    "expired": N_("The ID token has expired."),
    "wrong_issuer": N_("The ID token was not issued by %(issuer)s."),
    "wrong_audience": N_("The ID token was issued for another application."),
    "wrong_nonce": N_("The ID token belongs to another sign-in."),
    "not_yet_valid": N_("The ID token is not valid yet."),
    "bad_claim": N_("The ID token carries a wrong claim."),
    "unreadable": N_("The ID token cannot be read."),
    # the answer in the browser
    "malformed": N_("The sign-in answer's %(name)s parameter is malformed."),
    "unknown_state": N_(
        "This sign-in answer does not belong to a sign-in started in this browser, or it "
        "was used already. Please start again."
    ),
    "provider_error": N_("The company sign-in refused: %(error)s"),
    "answer_issuer": N_("The sign-in answer comes from %(named)s, not from %(issuer)s."),
    "no_code": N_("The sign-in answer carries no code."),
    # the person's claims and account
    "no_subject": N_("The company sign-in sent no usable subject (sub)."),
    "no_username": N_("The company sign-in sent no user name (the claim %(claim)s)."),
    "bad_username": N_(
        "The user name %(username)s from the company sign-in cannot be used here: user "
        "names are letters, digits and _ . - (at most 30)."
    ),
    "linked_to_other": N_("The account @%(username)s here belongs to another company account."),
    "disabled": N_("The account @%(username)s is switched off on this node."),
    "email_taken": N_(
        "The e-mail address %(email)s belongs to another account here, and the company "
        "sign-in does not mark it as verified, so it cannot be linked."
    ),
    "cannot_create": N_("No account can be created: %(error)s"),
    "not_set_up": N_("Single sign-on is not set up on this node."),
    "race": N_("Another sign-in of the same person was faster. Please try again."),
}


def client_of(request: Request) -> OpenIDClient | None:
    client: OpenIDClient | None = getattr(request.app.state, "openid", None)
    return client


def refused(
    request: Request, problem: SignOnProblem | SignOnRefused, status: int = 403
) -> Response:
    """The page of a refused sign-in, saying why."""
    t = translator(language(request))
    return page(
        request,
        "error.html",
        status=status,
        me=None,
        heading=t("Signing in with your company account failed"),
        message=t(REASONS[problem.reason], **problem.values),
    )


async def start(request: Request) -> Response:
    client = client_of(request)
    if client is None:
        return refused(request, SignOnRefused("not_set_up"), 404)
    next_page = safe_next(request.query_params.get("next"))
    if len(next_page) > MAX_NEXT:
        next_page = "/"
    try:
        url, pending = await client.start(next_page)
    except SignOnProblem as exc:
        log.warning("sign-on cannot start: %s", exc)
        return refused(request, exc, 502 if isinstance(exc, ProviderUnavailable) else 403)
    started = request.session.get(PENDING_KEY)
    kept = [p for p in started if isinstance(p, dict)] if isinstance(started, list) else []
    entries = [*kept[-(PENDING_KEPT - 1) :], pending.as_dict()]
    # The session is a cookie (4 KB at most in browsers): the oldest sign-ins give way.
    while len(entries) > 1 and len(orjson.dumps(entries)) > PENDING_BYTES:
        entries.pop(0)
    request.session[PENDING_KEY] = entries
    return RedirectResponse(url, status_code=302)


def _one(request: Request, name: str) -> str | None:
    """A callback parameter given once and of a sane size; None if absent."""
    values = request.query_params.getlist(name)
    if not values:
        return None
    if len(values) > 1 or len(values[0]) > MAX_PARAM or _CONTROL.search(values[0]):
        raise SignOnRefused("malformed", name=name)
    return values[0]


def _take_pending(request: Request, state: str) -> Pending | None:
    """The started sign-in with this state, removed from the session (it works once)."""
    started = request.session.get(PENDING_KEY)
    if not isinstance(started, list):
        return None
    found = None
    kept = []
    for item in started:
        pending = Pending.from_dict(item)
        if pending is None or pending.expired:
            continue
        if found is None and secrets.compare_digest(pending.state.encode(), state.encode()):
            found = pending
        else:
            kept.append(item)
    request.session[PENDING_KEY] = kept
    return found


def _text(claims: dict[str, Any], name: str, limit: int) -> str:
    value = claims.get(name)
    if not isinstance(value, str):
        return ""
    return _CONTROL.sub("", value).strip()[:limit]


def identity_of(settings: Settings, claims: dict[str, Any]) -> Identity:
    """What the checked claims say, or SignOnRefused when they cannot make an account here."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > 255:
        raise SignOnRefused("no_subject")
    claim = settings.oidc_username_claim
    username = claims.get(claim)
    if not isinstance(username, str) or not username:
        raise SignOnRefused("no_username", claim=claim)
    if len(username) > MAX_USERNAME or not USERNAME.fullmatch(username):
        raise SignOnRefused("bad_username", username=repr(username[:64]))
    email = _text(claims, "email", 320) or None
    if email is not None and ("@" not in email or any(c.isspace() for c in email)):
        email = None
    verified = claims.get("email_verified")
    groups = claims.get(settings.oidc_groups_claim)
    if isinstance(groups, str):
        groups = [groups]
    if not isinstance(groups, list):
        groups = []
    return Identity(
        issuer=settings.oidc_issuer,
        subject=subject,
        username=username,
        display_name=_text(claims, "name", 100),
        email=email,
        email_verified=verified is True or verified == "true",
        groups=frozenset(g for g in groups[:MAX_GROUPS] if isinstance(g, str)),
    )


async def callback(request: Request) -> Response:
    client = client_of(request)
    if client is None:
        return refused(request, SignOnRefused("not_set_up"), 404)
    node = node_of(request)
    try:
        state = _one(request, "state")
        error = _one(request, "error")
        code = _one(request, "code")
        issuer = _one(request, "iss")
    except SignOnRefused as exc:
        return refused(request, exc, 400)
    pending = _take_pending(request, state) if state else None
    if pending is None:
        return refused(request, SignOnRefused("unknown_state"), 400)
    if error is not None:
        return refused(request, SignOnRefused("provider_error", error=error[:100]))
    if issuer is not None and issuer != client.issuer:
        # RFC 9207: an answer from another provider (a mix-up attack) is refused.
        return refused(
            request, SignOnRefused("answer_issuer", named=issuer[:200], issuer=client.issuer)
        )
    if not code:
        return refused(request, SignOnRefused("no_code"), 400)
    try:
        claims = await client.redeem(code, pending)
        identity = identity_of(node.settings, claims)
        async with node.db.write() as session:
            account = await sign_in_identity(session, node.settings, identity)
    except ProviderUnavailable as exc:
        log.warning("sign-on failed: %s", exc)
        return refused(request, exc, 502)
    except (SignOnProblem, SignOnRefused) as exc:
        log.info("sign-on refused: %s", exc)
        return refused(request, exc)
    except IntegrityError:
        # Two first sign-ins of the same person at once: the other one won.
        return refused(request, SignOnRefused("race"), 409)
    await sign_in(request, account.id)
    return RedirectResponse(pending.next, status_code=303)


routes: list[BaseRoute] = [
    Route("/auth/oidc", start, methods=["GET"]),
    Route("/auth/oidc/callback", callback, methods=["GET"]),
]
