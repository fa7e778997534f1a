"""No admin action skips the audit log: every writing route under /api/v1/admin, /api/v2/admin,
/api/v1/flurfunk and /admin, and every `flurfunk` command that changes state, is run once with
a valid request against a real node, and must leave a new audit entry with the expected action.

The routes and commands are read from the app and the CLI parser themselves, so whatever is
added later is caught: a route or command that is neither in the table of cases below nor in
the commented list of exemptions fails the test with a message saying what to add.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from starlette.routing import Route

from models.base import utcnow
from models.db import Database
from models.discovery import TrendItem
from models.federation import Delivery, OutboxActivity
from tests.kit import RunningNode, User, running_node
from web.cli import parser
from web.routes import routes

WRITES = {"POST", "PUT", "PATCH", "DELETE"}
WALKED = ("/api/v1/admin", "/api/v2/admin", "/api/v1/flurfunk", "/admin")
SCOPES = "read write follow push admin:read admin:write"

# Writing routes that are no admin action, or that never change anything. Each says why.
EXEMPT_ROUTES = {
    # A person accepting the usage policy for themselves, not an admin action.
    ("POST", "/api/v1/flurfunk/policy/accept"),
    # A person appealing a warning they were given; the decision on it is audited.
    ("POST", "/api/v1/flurfunk/appeals"),
    # The node has no sign-up approval queue: always 403, as Mastodon for a non-pending account.
    ("POST", "/api/v1/admin/accounts/{id}/approve"),
    ("POST", "/api/v1/admin/accounts/{id}/reject"),
}

# Commands that change no state, or that run the node rather than act on it.
READ_ONLY_COMMANDS = {
    "user list",
    "allowlist list",
    "deliveries",
    "node show",
    "node rule list",
    "emoji list",
    "policy acceptances",
    "role list",
    "watch list",
    "compliance reminder show",
    "retention show",
    "hold list",
    "group list",
}
EXEMPT_COMMANDS = {
    "serve",  # runs the node
    "migrate",  # brings the schema up to date: no admin decision
    "worker",  # runs background work
    "demo",  # starts throwaway demo nodes
}


@dataclass
class Walk:
    """What the cases need: the node, an admin with a token, and a signed-in admin browser."""

    node: RunningNode
    admin: User
    other: User  # a second admin: an appeal is decided by someone other than who acted
    browser: httpx.Client
    tmp: Path

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.node.api(self.admin, method, path, **kwargs)

    def form(self, path: str, **data: Any) -> httpx.Response:
        token = re.search(
            r'name="csrf_token" value="([^"]+)"', self.browser.get("/admin/node").text
        )
        assert token is not None
        files = data.pop("_files", None)
        return self.browser.post(path, data={"csrf_token": token.group(1), **data}, files=files)

    def user(self, prefix: str = "walk") -> User:
        """A new person who has accepted the usage policy, if one is published by now."""
        user = self.node.create_user(prefix)
        policy = self.node.api(user, "GET", "/api/v1/flurfunk/policy")
        if policy.status_code == 200:
            version = policy.json()["version"]
            self.node.api(user, "POST", "/api/v1/flurfunk/policy/accept", json={"version": version})
        return user

    def seed(self, *rows: Any) -> None:
        """State no request of a single node can make quickly (a trend, a failed delivery)."""

        async def add() -> None:
            db = Database(self.node.database_url)
            try:
                async with db.write() as session:
                    for row in rows:
                        session.add(row)
                        await session.flush()
            finally:
                await db.dispose()

        asyncio.run(add())

    def failed_delivery(self) -> int:
        activity = OutboxActivity(
            uri=f"{self.node.url}/walk/{secrets.token_hex(4)}",
            type="Create",
            payload="{}",
        )
        self.seed(activity)
        delivery = Delivery(
            activity_id=activity.id,
            inbox_url="https://gone.corp.example/inbox",
            host="gone.corp.example",
            state="failed",
            next_attempt_at=utcnow(),
        )
        self.seed(delivery)
        return delivery.id

    def trend(self, kind: str) -> int:
        item_id = int(secrets.randbelow(10**12)) + 1
        self.seed(
            TrendItem(
                kind=kind, item_id=item_id, label=f"walk{item_id}", rank=1, accounts=1, uses=1
            )
        )
        return item_id

    def report(self) -> str:
        return self.report_with_post()[0]

    def report_with_post(self) -> tuple[str, User, str]:
        """A report about a new person and one of their posts: (report id, person, post id)."""
        reporter, target = self.user("reporter"), self.user("target")
        posted = self.node.api(target, "POST", "/api/v1/statuses", json={"status": "reported"})
        status_id = str(posted.json()["id"])
        body = {"account_id": target.id, "status_ids": [status_id]}
        answer = self.node.api(reporter, "POST", "/api/v1/reports", json=body)
        assert answer.status_code == 200, answer.text
        return str(answer.json()["id"]), target, status_id

    def appeal(self) -> str:
        """An appeal against a warning the other admin gave, awaiting a decision."""
        target = self.user("warned")
        warned = self.node.api(
            self.other,
            "POST",
            f"/api/v1/admin/accounts/{target.id}/action",
            data={"type": "sensitive", "text": "Please mark your media"},
        )
        assert warned.status_code == 200, warned.text
        warning = self.node.api(target, "GET", "/api/v1/flurfunk/warnings").json()[0]
        body = {"warning_id": warning["id"], "text": "I did mind them"}
        filed = self.node.api(target, "POST", "/api/v1/flurfunk/appeals", json=body)
        assert filed.status_code == 200, filed.text
        return str(filed.json()["id"])

    def post_of_someone(self) -> str:
        posted = self.node.api(self.user(), "POST", "/api/v1/statuses", json={"status": "x"})
        return str(posted.json()["id"])

    def held_post(self) -> str:
        term = self.api(
            "POST",
            "/api/v1/flurfunk/watch_terms",
            json={"term": "walkhold", "label": "walk", "hold": True},
        ).json()
        post = self.node.api(
            self.user(), "POST", "/api/v1/statuses", json={"status": "a walkhold post"}
        ).json()
        self.api("DELETE", f"/api/v1/flurfunk/watch_terms/{term['id']}")
        return str(post["id"])

    def term(self) -> str:
        body = {"term": f"walk{secrets.token_hex(3)}", "label": "walk"}
        return str(self.api("POST", "/api/v1/flurfunk/watch_terms", json=body).json()["id"])

    def suspended(self) -> User:
        user = self.user()
        self.api("POST", f"/api/v1/admin/accounts/{user.id}/action", data={"type": "suspend"})
        return user


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


Request = Callable[[], httpx.Response]
Prepare = Callable[[Walk], Request]


def _role_id(w: Walk) -> str:
    name = f"w{secrets.token_hex(3)}"
    made = w.api("POST", "/api/v1/flurfunk/roles", json={"name": name, "permissions": ["announce"]})
    return str(made.json()["id"])


def _rule_id(w: Walk) -> str:
    w.form("/admin/node/rules", text=f"walk rule {secrets.token_hex(2)}")
    found = re.findall(r"/admin/node/rules/(\d+)/remove", w.browser.get("/admin/node").text)
    return str(found[-1])


def _role_name(w: Walk) -> str:
    name = f"w{secrets.token_hex(3)}"
    w.form("/admin/roles", name=name, permissions="announce")
    return name


def _emoji(w: Walk) -> str:
    code = f"walk_{secrets.token_hex(3)}"
    w.form("/admin/emoji", shortcode=code, _files={"image": ("e.png", png(), "image/png")})
    return code


def bind(value: Any, call: Callable[[Any], httpx.Response]) -> Request:
    """The request `call(value)`, once `value` (made by setting up) is at hand."""
    return lambda: call(value)


def _domain() -> str:
    return f"w{secrets.token_hex(3)}.corp.example"


def _trend_review(path: str, kind: str, verb: str) -> Prepare:
    return lambda w: bind(
        w.trend(kind), lambda item: w.api("POST", f"/api/v1/admin/trends/{path}/{item}/{verb}")
    )


def _report_step(first: str | None, verb: str) -> Prepare:
    def prepare(w: Walk) -> Request:
        report = w.report()
        if first:
            w.api("POST", f"/api/v1/admin/reports/{report}/{first}")
        return lambda: w.api("POST", f"/api/v1/admin/reports/{report}/{verb}")

    return prepare


def _appeal_decision(verb: str) -> Prepare:
    return lambda w: bind(
        w.appeal(), lambda a: w.api("POST", f"/api/v1/flurfunk/appeals/{a}/{verb}")
    )


def _page_account_action(w: Walk) -> Request:
    report_id, target, _ = w.report_with_post()
    return lambda: w.form(
        f"/admin/reports/{report_id}/account", account_id=target.id, type="none", text="Mind it"
    )


def _page_status_action(w: Walk) -> Request:
    report_id, _, status_id = w.report_with_post()
    return lambda: w.form(
        f"/admin/reports/{report_id}/statuses", type="sensitive", status_ids=status_id, text="CW"
    )


def _allowlist_removal(w: Walk) -> Request:
    made = w.api("POST", "/api/v1/admin/domain_allows", data={"domain": _domain()}).json()
    return lambda: w.api("DELETE", f"/api/v1/admin/domain_allows/{made['id']}")


def _page_allowlist_removal(w: Walk) -> Request:
    pattern = _domain()
    w.form("/admin/federation/allowlist/add", pattern=pattern)
    return lambda: w.form("/admin/federation/allowlist/remove", pattern=pattern)


GROUPS = "/api/v1/flurfunk/groups"


def _group(w: Walk, join: str = "open") -> str:
    """A new group the admin owns (its name)."""
    name = f"g{secrets.token_hex(3)}"
    made = w.api("POST", GROUPS, json={"name": name, "join": join})
    assert made.status_code == 200, made.text
    return name


def _group_member(w: Walk) -> tuple[str, User]:
    name, user = _group(w), w.user("member")
    added = w.api("POST", f"{GROUPS}/{name}/members", json={"account_id": user.id})
    assert added.status_code == 200, added.text
    return name, user


def _join_request(w: Walk) -> tuple[str, User]:
    name, user = _group(w, "approval"), w.user("joiner")
    group_id = w.api("GET", f"{GROUPS}/{name}").json()["id"]
    asked = w.node.api(user, "POST", f"/api/v1/accounts/{group_id}/follow")
    assert asked.status_code == 200, asked.text
    return name, user


def _group_post(w: Walk) -> tuple[str, str]:
    name, user = _group_member(w)
    posted = w.node.api(user, "POST", "/api/v1/statuses", json={"status": f"@{name} hello"})
    assert posted.status_code == 200, posted.text
    return name, str(posted.json()["id"])


ANNOUNCEMENTS = "/api/v1/flurfunk/announcements"


def _announcement(w: Walk) -> str:
    made = w.api("POST", ANNOUNCEMENTS, json={"text": "Walk notice", "audience": "node"})
    assert made.status_code == 200, made.text
    return str(made.json()["id"])


# Retention rules keep ten years in the walk: no post of a later case is swept away.
KEEP = 3650


def _held(w: Walk) -> User:
    """A new person under legal hold (put there by the other admin)."""
    user = w.user("held")
    body = {"account": user.name, "reason": "walk case"}
    held = w.node.api(w.other, "POST", "/api/v1/flurfunk/legal_holds", json=body)
    assert held.status_code == 200, held.text
    return user


def _rule_to_clear(w: Walk) -> Request:
    made = w.api("POST", "/api/v1/flurfunk/retention", json={"days": KEEP, "visibility": "direct"})
    assert made.status_code == 200, made.text
    return lambda: w.api("DELETE", "/api/v1/flurfunk/retention")


def _page_rule_to_clear(w: Walk) -> Request:
    w.form("/admin/retention/rules", days=str(KEEP), visibility="all")
    return lambda: w.form("/admin/retention/rules/clear")


# (method, route path) -> (the action the audit log must show, how to make a valid request).
# The policy cases come last: once a policy exists, posting waits for its acceptance.
CASES: dict[tuple[str, str], tuple[str, Prepare]] = {
    # --- Mastodon's admin API ---
    **{
        ("POST", f"/api/v1/admin/trends/{path}/{{id}}/{verb}"): (
            f"trends.{verb}",
            _trend_review(path, kind, verb),
        )
        for path, kind in (("tags", "tag"), ("statuses", "status"), ("links", "link"))
        for verb in ("approve", "reject")
    },
    ("DELETE", "/api/v1/admin/accounts/{id}"): (
        "user.delete",
        lambda w: bind(w.suspended(), lambda u: w.api("DELETE", f"/api/v1/admin/accounts/{u.id}")),
    ),
    ("POST", "/api/v1/admin/accounts/{id}/action"): (
        "user.suspend",
        lambda w: bind(
            w.user(),
            lambda u: w.api(
                "POST", f"/api/v1/admin/accounts/{u.id}/action", data={"type": "suspend"}
            ),
        ),
    ),
    ("POST", "/api/v1/admin/accounts/{id}/unsuspend"): (
        "user.unsuspend",
        lambda w: bind(
            w.suspended(), lambda u: w.api("POST", f"/api/v1/admin/accounts/{u.id}/unsuspend")
        ),
    ),
    ("POST", "/api/v1/admin/domain_allows"): (
        "allowlist.add",
        lambda w: lambda: w.api("POST", "/api/v1/admin/domain_allows", data={"domain": _domain()}),
    ),
    ("DELETE", "/api/v1/admin/domain_allows/{id}"): ("allowlist.remove", _allowlist_removal),
    ("POST", "/api/v1/admin/deliveries/{id}/retry"): (
        "delivery.retry",
        lambda w: bind(
            w.failed_delivery(), lambda d: w.api("POST", f"/api/v1/admin/deliveries/{d}/retry")
        ),
    ),
    ("POST", "/api/v1/admin/reports/{id}/assign_to_self"): (
        "report.assign",
        _report_step(None, "assign_to_self"),
    ),
    ("POST", "/api/v1/admin/reports/{id}/unassign"): (
        "report.unassign",
        _report_step("assign_to_self", "unassign"),
    ),
    ("POST", "/api/v1/admin/reports/{id}/resolve"): (
        "report.resolve",
        _report_step(None, "resolve"),
    ),
    ("POST", "/api/v1/admin/reports/{id}/reopen"): (
        "report.reopen",
        _report_step("resolve", "reopen"),
    ),
    # --- Flurfunk's own API ---
    ("POST", "/api/v1/flurfunk/appeals/{id}/approve"): (
        "appeal.approve",
        _appeal_decision("approve"),
    ),
    ("POST", "/api/v1/flurfunk/appeals/{id}/reject"): ("appeal.reject", _appeal_decision("reject")),
    ("POST", "/api/v1/flurfunk/moderation/statuses"): (
        "status.sensitive",
        lambda w: bind(
            w.post_of_someone(),
            lambda s: w.api(
                "POST",
                "/api/v1/flurfunk/moderation/statuses",
                json={"type": "sensitive", "status_ids": [s], "text": "Please add a warning"},
            ),
        ),
    ),
    ("POST", "/api/v1/flurfunk/roles"): (
        "role.create",
        lambda w: (
            lambda: w.api(
                "POST",
                "/api/v1/flurfunk/roles",
                json={"name": f"w{secrets.token_hex(3)}", "permissions": ["announce"]},
            )
        ),
    ),
    ("PATCH", "/api/v1/flurfunk/roles/{id}"): (
        "role.change",
        lambda w: bind(
            _role_id(w),
            lambda r: w.api("PATCH", f"/api/v1/flurfunk/roles/{r}", json={"color": "#123456"}),
        ),
    ),
    ("PUT", "/api/v1/flurfunk/roles/{id}"): (
        "role.change",
        lambda w: bind(
            _role_id(w),
            lambda r: w.api("PUT", f"/api/v1/flurfunk/roles/{r}", json={"color": "#654321"}),
        ),
    ),
    ("DELETE", "/api/v1/flurfunk/roles/{id}"): (
        "role.delete",
        lambda w: bind(_role_id(w), lambda r: w.api("DELETE", f"/api/v1/flurfunk/roles/{r}")),
    ),
    ("POST", "/api/v1/flurfunk/watch_terms"): (
        "watch.add",
        lambda w: (
            lambda: w.api(
                "POST", "/api/v1/flurfunk/watch_terms", json={"term": "walkterm", "label": "walk"}
            )
        ),
    ),
    ("PATCH", "/api/v1/flurfunk/watch_terms/{id}"): (
        "watch.change",
        lambda w: bind(
            w.term(),
            lambda t: w.api("PATCH", f"/api/v1/flurfunk/watch_terms/{t}", json={"hold": True}),
        ),
    ),
    ("PUT", "/api/v1/flurfunk/watch_terms/{id}"): (
        "watch.change",
        lambda w: bind(
            w.term(),
            lambda t: w.api("PUT", f"/api/v1/flurfunk/watch_terms/{t}", json={"label": "other"}),
        ),
    ),
    ("DELETE", "/api/v1/flurfunk/watch_terms/{id}"): (
        "watch.remove",
        lambda w: bind(w.term(), lambda t: w.api("DELETE", f"/api/v1/flurfunk/watch_terms/{t}")),
    ),
    ("POST", "/api/v1/flurfunk/holds/{status_id}/release"): (
        "watch.release",
        lambda w: bind(
            w.held_post(), lambda s: w.api("POST", f"/api/v1/flurfunk/holds/{s}/release")
        ),
    ),
    ("PUT", "/api/v1/flurfunk/compliance/reminder"): (
        "compliance.reminder",
        lambda w: (
            lambda: w.api(
                "PUT",
                "/api/v1/flurfunk/compliance/reminder",
                json={"text": f"Walk {secrets.token_hex(2)}"},
            )
        ),
    ),
    ("POST", "/api/v1/flurfunk/retention"): (
        "retention.set",
        lambda w: lambda: w.api("POST", "/api/v1/flurfunk/retention", json={"days": KEEP}),
    ),
    ("PUT", "/api/v1/flurfunk/retention"): (
        "retention.set",
        lambda w: (
            lambda: w.api(
                "PUT", "/api/v1/flurfunk/retention", json={"days": KEEP, "visibility": "public"}
            )
        ),
    ),
    ("DELETE", "/api/v1/flurfunk/retention"): ("retention.clear", _rule_to_clear),
    ("POST", "/api/v1/flurfunk/legal_holds"): (
        "hold.add",
        lambda w: bind(
            w.user("tohold"),
            lambda u: w.api(
                "POST",
                "/api/v1/flurfunk/legal_holds",
                json={"account": u.name, "reason": "walk case"},
            ),
        ),
    ),
    ("DELETE", "/api/v1/flurfunk/legal_holds"): (
        "hold.remove",
        lambda w: bind(
            _held(w),
            lambda u: w.api("DELETE", "/api/v1/flurfunk/legal_holds", params={"account": u.name}),
        ),
    ),
    ("DELETE", "/api/v1/flurfunk/legal_holds/{account}"): (
        "hold.remove",
        lambda w: bind(
            _held(w), lambda u: w.api("DELETE", f"/api/v1/flurfunk/legal_holds/{u.name}")
        ),
    ),
    ("POST", "/api/v1/flurfunk/exports"): (
        "export.account",
        lambda w: bind(
            w.user("exported"),
            lambda u: w.api("POST", "/api/v1/flurfunk/exports", data={"account": u.name}),
        ),
    ),
    # --- announcements ---
    ("POST", ANNOUNCEMENTS): (
        "announcement.publish",
        lambda w: lambda: w.api("POST", ANNOUNCEMENTS, json={"text": "Hi", "audience": "node"}),
    ),
    ("PATCH", ANNOUNCEMENTS + "/{id}"): (
        "announcement.edit",
        lambda w: bind(
            _announcement(w),
            lambda a: w.api("PATCH", f"{ANNOUNCEMENTS}/{a}", json={"text": "Changed"}),
        ),
    ),
    ("PUT", ANNOUNCEMENTS + "/{id}"): (
        "announcement.edit",
        lambda w: bind(
            _announcement(w),
            lambda a: w.api("PUT", f"{ANNOUNCEMENTS}/{a}", json={"text": "Put"}),
        ),
    ),
    ("DELETE", ANNOUNCEMENTS + "/{id}"): (
        "announcement.withdraw",
        lambda w: bind(_announcement(w), lambda a: w.api("DELETE", f"{ANNOUNCEMENTS}/{a}")),
    ),
    # --- groups: their owners and moderators moderating them ---
    ("POST", GROUPS): (
        "group.create",
        lambda w: lambda: w.api("POST", GROUPS, json={"name": f"g{secrets.token_hex(3)}"}),
    ),
    ("PATCH", GROUPS + "/{group}"): (
        "group.update",
        lambda w: bind(
            _group(w), lambda g: w.api("PATCH", f"{GROUPS}/{g}", json={"title": "Walkers"})
        ),
    ),
    ("DELETE", GROUPS + "/{group}"): (
        "group.delete",
        lambda w: bind(_group(w), lambda g: w.api("DELETE", f"{GROUPS}/{g}")),
    ),
    ("POST", GROUPS + "/{group}/members"): (
        "group.member_add",
        lambda w: bind(
            (_group(w), w.user("member")),
            lambda gu: w.api("POST", f"{GROUPS}/{gu[0]}/members", json={"account_id": gu[1].id}),
        ),
    ),
    ("PATCH", GROUPS + "/{group}/members/{account_id}"): (
        "group.member_role",
        lambda w: bind(
            _group_member(w),
            lambda gu: w.api(
                "PATCH", f"{GROUPS}/{gu[0]}/members/{gu[1].id}", json={"role": "moderator"}
            ),
        ),
    ),
    ("DELETE", GROUPS + "/{group}/members/{account_id}"): (
        "group.member_remove",
        lambda w: bind(
            _group_member(w),
            lambda gu: w.api("DELETE", f"{GROUPS}/{gu[0]}/members/{gu[1].id}"),
        ),
    ),
    ("POST", GROUPS + "/{group}/join_requests/{account_id}/authorize"): (
        "group.join_authorize",
        lambda w: bind(
            _join_request(w),
            lambda gu: w.api("POST", f"{GROUPS}/{gu[0]}/join_requests/{gu[1].id}/authorize"),
        ),
    ),
    ("POST", GROUPS + "/{group}/join_requests/{account_id}/reject"): (
        "group.join_reject",
        lambda w: bind(
            _join_request(w),
            lambda gu: w.api("POST", f"{GROUPS}/{gu[0]}/join_requests/{gu[1].id}/reject"),
        ),
    ),
    ("DELETE", GROUPS + "/{group}/statuses/{status_id}"): (
        "group.status_remove",
        lambda w: bind(
            _group_post(w), lambda gs: w.api("DELETE", f"{GROUPS}/{gs[0]}/statuses/{gs[1]}")
        ),
    ),
    # --- the admin pages ---
    ("POST", "/admin/announcements"): (
        "announcement.publish",
        lambda w: lambda: w.form("/admin/announcements", text="Page notice", audience="node"),
    ),
    ("POST", "/admin/announcements/{id}/withdraw"): (
        "announcement.withdraw",
        lambda w: bind(_announcement(w), lambda a: w.form(f"/admin/announcements/{a}/withdraw")),
    ),
    ("POST", "/admin/reports/{report_id}/account"): ("account.warn", _page_account_action),
    ("POST", "/admin/reports/{report_id}/statuses"): ("status.sensitive", _page_status_action),
    ("POST", "/admin/reports/{report_id}/{action}"): (
        "report.resolve",
        lambda w: bind(w.report(), lambda r: w.form(f"/admin/reports/{r}/resolve")),
    ),
    ("POST", "/admin/appeals/{appeal_id}/{decision}"): (
        "appeal.approve",
        lambda w: bind(w.appeal(), lambda a: w.form(f"/admin/appeals/{a}/approve")),
    ),
    ("POST", "/admin/users"): (
        "user.create",
        lambda w: lambda: w.form("/admin/users", name=f"walk{secrets.token_hex(3)}", role="user"),
    ),
    ("POST", "/admin/users/{name}/reset_password"): (
        "user.reset_password",
        lambda w: bind(w.user(), lambda u: w.form(f"/admin/users/{u.name}/reset_password")),
    ),
    ("POST", "/admin/users/{name}/{action}"): (
        "user.suspend",
        lambda w: bind(w.user(), lambda u: w.form(f"/admin/users/{u.name}/suspend")),
    ),
    ("POST", "/admin/node"): (
        "node.set",
        lambda w: (
            lambda: w.form(
                "/admin/node", name=f"Walk {secrets.token_hex(2)}", description="", contact_email=""
            )
        ),
    ),
    ("POST", "/admin/node/rules"): (
        "node.rule_add",
        lambda w: lambda: w.form("/admin/node/rules", text="Be kind"),
    ),
    ("POST", "/admin/node/rules/{rule_id}/remove"): (
        "node.rule_remove",
        lambda w: bind(_rule_id(w), lambda r: w.form(f"/admin/node/rules/{r}/remove")),
    ),
    ("POST", "/admin/federation/allowlist/add"): (
        "allowlist.add",
        lambda w: lambda: w.form("/admin/federation/allowlist/add", pattern=_domain()),
    ),
    ("POST", "/admin/federation/allowlist/remove"): ("allowlist.remove", _page_allowlist_removal),
    ("POST", "/admin/federation/deliveries/{delivery_id}/retry"): (
        "delivery.retry",
        lambda w: bind(
            w.failed_delivery(), lambda d: w.form(f"/admin/federation/deliveries/{d}/retry")
        ),
    ),
    ("POST", "/admin/emoji"): (
        "emoji.add",
        lambda w: (
            lambda: w.form(
                "/admin/emoji",
                shortcode=f"walk_{secrets.token_hex(3)}",
                _files={"image": ("e.png", png(), "image/png")},
            )
        ),
    ),
    ("POST", "/admin/emoji/{shortcode}/remove"): (
        "emoji.remove",
        lambda w: bind(_emoji(w), lambda code: w.form(f"/admin/emoji/{code}/remove")),
    ),
    ("POST", "/admin/trends/{kind}/{item_id}/{action}"): (
        "trends.approve",
        lambda w: bind(w.trend("tag"), lambda item: w.form(f"/admin/trends/tag/{item}/approve")),
    ),
    ("POST", "/admin/roles"): (
        "role.create",
        lambda w: (
            lambda: w.form("/admin/roles", name=f"w{secrets.token_hex(3)}", permissions="announce")
        ),
    ),
    ("POST", "/admin/roles/{name}/delete"): (
        "role.delete",
        lambda w: bind(_role_name(w), lambda n: w.form(f"/admin/roles/{n}/delete")),
    ),
    ("POST", "/admin/compliance/reminder"): (
        "compliance.reminder",
        lambda w: lambda: w.form("/admin/compliance/reminder", text=f"Page {secrets.token_hex(2)}"),
    ),
    ("POST", "/admin/compliance/terms"): (
        "watch.add",
        lambda w: lambda: w.form("/admin/compliance/terms", term="pageterm", label="walk"),
    ),
    ("POST", "/admin/compliance/terms/{id}/remove"): (
        "watch.remove",
        lambda w: bind(w.term(), lambda t: w.form(f"/admin/compliance/terms/{t}/remove")),
    ),
    ("POST", "/admin/compliance/holds/{status_id}/release"): (
        "watch.release",
        lambda w: bind(w.held_post(), lambda s: w.form(f"/admin/compliance/holds/{s}/release")),
    ),
    ("POST", "/admin/retention/rules"): (
        "retention.set",
        lambda w: lambda: w.form("/admin/retention/rules", days=str(KEEP), visibility="unlisted"),
    ),
    ("POST", "/admin/retention/rules/clear"): ("retention.clear", _page_rule_to_clear),
    ("POST", "/admin/retention/holds"): (
        "hold.add",
        lambda w: bind(
            w.user("tohold"),
            lambda u: w.form("/admin/retention/holds", account=u.name, reason="page case"),
        ),
    ),
    ("POST", "/admin/retention/holds/remove"): (
        "hold.remove",
        lambda w: bind(_held(w), lambda u: w.form("/admin/retention/holds/remove", account=u.name)),
    ),
    # --- last: publishing a usage policy ---
    ("PUT", "/api/v1/flurfunk/policy"): (
        "policy.publish",
        lambda w: lambda: w.api("PUT", "/api/v1/flurfunk/policy", json={"text": "- Be kind"}),
    ),
    ("POST", "/admin/policy"): (
        "policy.publish",
        lambda w: lambda: w.form("/admin/policy", text="- Be kind, please"),
    ),
}


def writing_routes() -> set[tuple[str, str]]:
    found = set()
    for route in routes():
        if isinstance(route, Route) and route.path.startswith(WALKED):
            found |= {(m, route.path) for m in (route.methods or set()) & WRITES}
    return found


def commands() -> set[str]:
    def leaves(p: argparse.ArgumentParser, prefix: tuple[str, ...]) -> Iterator[str]:
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield from leaves(sub, (*prefix, name))
                return
        yield " ".join(prefix)

    return set(leaves(parser(), ()))


def test_every_admin_route_and_command_is_walked() -> None:
    """Runs without a node: a new admin route or command must get a case (or an exemption)."""
    unknown_routes = writing_routes() - set(CASES) - EXEMPT_ROUTES
    assert not unknown_routes, (
        f"admin routes without an audit case: {sorted(unknown_routes)}. Add a case to CASES in "
        "tests/integration/test_audit_walk.py (a valid request and the audit action it must "
        "record), or, if it is no admin action, to EXEMPT_ROUTES with the reason."
    )
    assert not (set(CASES) - writing_routes()), "cases for routes that no longer exist"
    unknown_commands = commands() - set(CLI_CASES) - READ_ONLY_COMMANDS - EXEMPT_COMMANDS
    assert not unknown_commands, (
        f"flurfunk commands without an audit case: {sorted(unknown_commands)}. Add a case to "
        "CLI_CASES in tests/integration/test_audit_walk.py, or, if it changes nothing, to "
        "READ_ONLY_COMMANDS."
    )


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Walk]:
    tmp = tmp_path_factory.mktemp("walk")
    with running_node(tmp, "sqlite") as node:
        token = node.cli("user", "token", "admin", "--scopes", SCOPES).stdout.split()[-1]
        admin = User("admin", node.admin_password, "", token)
        admin.id = node.api(admin, "GET", "/api/v1/accounts/verify_credentials").json()["id"]
        other = node.create_user("second", via_cli=True, scopes=SCOPES)
        node.cli("user", "role", other.name, "admin")
        with httpx.Client(
            base_url=node.url, headers={"Accept": "text/html"}, timeout=30
        ) as browser:
            page = browser.get("/auth/sign_in")
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert csrf is not None
            signed = browser.post(
                "/auth/sign_in",
                data={
                    "csrf_token": csrf.group(1),
                    "login": "admin",
                    "password": node.admin_password,
                },
            )
            assert signed.status_code == 303
            yield Walk(node, admin, other, browser, tmp)


def newest_id(w: Walk) -> int:
    rows = w.api("GET", "/api/v1/flurfunk/audit", params={"limit": 1}).json()
    return int(rows[0]["id"]) if rows else 0


def recorded_since(w: Walk, after: int) -> list[str]:
    rows = w.api(
        "GET", "/api/v1/flurfunk/audit", params={"since_id": str(after), "limit": 200}
    ).json()
    return [r["action"] for r in rows]


def test_every_admin_route_records_an_audit_entry(walk: Walk) -> None:
    missing = []
    for (method, path), (action, prepare) in CASES.items():
        request = prepare(walk)
        before = newest_id(walk)
        answer = request()
        assert answer.status_code < 400, (
            f"{method} {path}: {answer.status_code} {answer.text[:300]}"
        )
        if path.startswith("/admin"):
            shown = answer.text
            if answer.status_code == 303:
                shown = walk.browser.get(answer.headers["location"]).text
            assert "Not done" not in shown, f"{method} {path} was refused"
        if action not in recorded_since(walk, before):
            missing.append(f"{method} {path} (expected {action})")
    assert not missing, f"admin actions that left no audit entry: {missing}"


def _cli_enable(w: Walk) -> list[str]:
    name = w.user().name
    w.node.cli("user", "disable", name)
    return ["user", "enable", name]


def _cli_allowlist_removal(w: Walk) -> list[str]:
    pattern = _domain()
    w.node.cli("allowlist", "add", pattern)
    return ["allowlist", "remove", pattern]


# `flurfunk` commands that change state -> (arguments, or a function making them; the action).
CommandCase = tuple[Callable[[Walk], list[str]], str]
CLI_CASES: dict[str, CommandCase] = {
    "user create": (
        lambda w: ["user", "create", f"c{secrets.token_hex(3)}", "--password", "pw-walk-12345678"],
        "user.create",
    ),
    "user invite": (lambda w: ["user", "invite", f"i{secrets.token_hex(3)}"], "user.invite"),
    "user suspend": (lambda w: ["user", "suspend", w.user().name], "user.suspend"),
    "user unsuspend": (lambda w: ["user", "unsuspend", w.suspended().name], "user.unsuspend"),
    "user reset-password": (
        lambda w: ["user", "reset-password", w.user().name],
        "user.reset_password",
    ),
    "user role": (lambda w: ["user", "role", w.user().name, "moderator"], "user.role"),
    "user delete": (lambda w: ["user", "delete", w.user().name, "--yes"], "user.delete"),
    "user disable": (lambda w: ["user", "disable", w.user().name], "user.disable"),
    "user enable": (_cli_enable, "user.enable"),
    "user token": (lambda w: ["user", "token", w.user().name], "user.token"),
    "allowlist add": (
        lambda w: ["allowlist", "add", f"c{secrets.token_hex(3)}.corp.example"],
        "allowlist.add",
    ),
    "allowlist remove": (_cli_allowlist_removal, "allowlist.remove"),
    "node set": (lambda w: ["node", "set", "--name", f"CLI {secrets.token_hex(2)}"], "node.set"),
    "node rule add": (lambda w: ["node", "rule", "add", "Walk rule"], "node.rule_add"),
    "node rule remove": (
        lambda w: [
            "node",
            "rule",
            "remove",
            w.node.cli("node", "rule", "add", "Gone").stdout.split()[-1],
        ],
        "node.rule_remove",
    ),
    "emoji add": (
        lambda w: ["emoji", "add", f"cli_{secrets.token_hex(3)}", str(_png_file(w))],
        "emoji.add",
    ),
    "emoji remove": (lambda w: ["emoji", "remove", _emoji(w)], "emoji.remove"),
    "role create": (
        lambda w: ["role", "create", f"c{secrets.token_hex(3)}", "--permissions", "announce"],
        "role.create",
    ),
    "role delete": (lambda w: ["role", "delete", _role_name(w)], "role.delete"),
    "watch add": (lambda w: ["watch", "add", "cliterm", "--label", "walk"], "watch.add"),
    "watch remove": (lambda w: ["watch", "remove", w.term()], "watch.remove"),
    "watch release": (lambda w: ["watch", "release", w.held_post()], "watch.release"),
    "compliance reminder set": (
        lambda w: ["compliance", "reminder", "set", f"CLI {secrets.token_hex(2)}"],
        "compliance.reminder",
    ),
    "compliance reminder clear": (
        lambda w: (
            w.node.cli("compliance", "reminder", "set", "to clear"),
            ["compliance", "reminder", "clear"],
        )[1],
        "compliance.reminder_clear",
    ),
    "audit export": (lambda w: ["audit", "export", "--format", "csv"], "audit.export"),
    "scim token": (
        lambda w: ["scim", "token", "--name", f"walk{secrets.token_hex(3)}"],
        "scim.token_create",
    ),
    "retention set": (lambda w: ["retention", "set", "--days", str(KEEP)], "retention.set"),
    "retention clear": (lambda w: ["retention", "clear"], "retention.clear"),
    "retention sweep": (lambda w: ["retention", "sweep"], "retention.sweep"),
    "hold add": (
        lambda w: ["hold", "add", w.user("tohold").name, "--reason", "cli case"],
        "hold.add",
    ),
    "hold remove": (lambda w: ["hold", "remove", _held(w).name], "hold.remove"),
    "export account": (
        lambda w: [
            "export",
            "account",
            w.user("exported").name,
            "--out",
            str(w.tmp / f"export-{secrets.token_hex(3)}.zip"),
        ],
        "export.account",
    ),
    "announce": (
        lambda w: ["announce", "CLI notice", "--audience", "node"],
        "announcement.publish",
    ),
    "group create": (
        lambda w: ["group", "create", f"c{secrets.token_hex(3)}", "--owner", w.user().name],
        "group.create",
    ),
    "group add-member": (
        lambda w: ["group", "add-member", _group(w), w.user("member").name],
        "group.member_add",
    ),
    "group remove-member": (
        lambda w: (lambda gu: ["group", "remove-member", gu[0], gu[1].name])(_group_member(w)),
        "group.member_remove",
    ),
    "export group": (
        lambda w: [
            "export",
            "group",
            _group(w),
            "--out",
            str(w.tmp / f"export-{secrets.token_hex(3)}.zip"),
        ],
        "export.group",
    ),
    # Last: a policy makes posting wait for its acceptance.
    "policy set": (lambda w: ["policy", "set", str(_policy_file(w))], "policy.publish"),
}


def _png_file(w: Walk) -> Path:
    path = w.tmp / "walk.png"
    path.write_bytes(png())
    return path


def _policy_file(w: Walk) -> Path:
    path = w.tmp / "policy.md"
    path.write_text(f"- Rule {secrets.token_hex(2)}\n", encoding="utf-8")
    return path


def test_every_state_changing_command_records_an_audit_entry(walk: Walk) -> None:
    missing = []
    for name, (arguments, action) in CLI_CASES.items():
        args = arguments(walk)
        before = newest_id(walk)
        walk.node.cli(*args)
        recorded = recorded_since(walk, before)
        if action not in recorded:
            missing.append(f"flurfunk {name} (expected {action}, got {recorded})")
    assert not missing, f"commands that left no audit entry: {missing}"


def test_a_refused_admin_request_changes_nothing_and_records_nothing(walk: Walk) -> None:
    before = newest_id(walk)
    for method, path in (
        ("DELETE", "/api/v1/flurfunk/watch_terms/1"),
        ("POST", "/api/v1/flurfunk/holds/1/release"),
        ("POST", "/api/v1/admin/accounts/1/action"),
        ("DELETE", "/api/v1/flurfunk/roles/999"),
    ):
        answer = walk.api(method, path, data={"type": "suspend"})
        assert 400 <= answer.status_code < 500, (method, path, answer.status_code)
    assert recorded_since(walk, before) == []
    # Reads are not recorded either (exports are).
    assert walk.api("GET", "/api/v1/flurfunk/audit").status_code == 200
    assert recorded_since(walk, before) == []


def test_a_group_moderator_action_names_the_group_and_the_member(walk: Walk) -> None:
    name, user = _group_member(walk)
    rows = walk.api("GET", "/api/v1/flurfunk/audit", params={"action": "group.member_add"}).json()
    assert (rows[0]["actor"], rows[0]["target"]) == ("admin", f"group:{name} {user.name}")
    # Leaving a group oneself is no moderator action: nothing is recorded.
    before = newest_id(walk)
    left = walk.node.api(user, "DELETE", f"{GROUPS}/{name}/members/{user.id}")
    assert left.status_code == 200, left.text
    assert recorded_since(walk, before) == []
