"""Who may do what: permission names, the built-in roles, the operator of an admin action,
and `require`, the one check every admin action makes.

Admin actions never ask for a role by name; they ask for a permission, and a role is a name
with a set of permissions (built in here, or custom in models.role). `manage_node` is ours
on top of the issue's list: it guards what no other permission names — the node's description
and rules, custom emoji, and sending a failed delivery again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PERMISSIONS = (
    "administer_users",
    "manage_allowlist",
    "manage_reports",
    "manage_roles",
    "manage_policy",
    "announce",
    "view_audit_log",
    "manage_compliance",
    "export_data",
    "manage_node",
)
ALL = frozenset(PERMISSIONS)

# Mastodon's Role permission bits for those that have an equivalent there; a role holding
# every permission also carries Mastodon's "administrator" bit (1).
MASTODON_BITS = {
    "view_audit_log": 1 << 2,
    "manage_reports": 1 << 4,
    "manage_allowlist": 1 << 5,  # manage_federation
    "manage_node": 1 << 6,  # manage_settings
    "administer_users": 1 << 10,  # manage_users
    "manage_policy": 1 << 12,  # manage_rules
    "announce": 1 << 13,  # manage_announcements
    "manage_roles": 1 << 17,
}


class AdminError(ValueError):
    """Why an action cannot be done, fit to show to the operator; `status` as HTTP."""

    status = 422


class NotPermitted(AdminError):
    status = 403


class MissingPermission(NotPermitted):
    def __init__(self, permission: str) -> None:
        super().__init__(f"This action requires the permission {permission}")
        self.permission = permission


class UnknownPermission(AdminError):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown permission {name!r}: one of {', '.join(PERMISSIONS)}")


@dataclass(frozen=True)
class Role:
    id: str
    name: str
    color: str
    permissions: frozenset[str]
    built_in: bool = False

    def mastodon_bits(self) -> str:
        bits = sum(MASTODON_BITS.get(p, 0) for p in self.permissions)
        return str(bits | 1 if self.permissions >= ALL else bits)


MODERATOR = frozenset({"administer_users", "manage_reports", "view_audit_log"})
# Ids as Mastodon gives its seeded roles; "-99" is Mastodon's everyone role.
BUILT_IN = {
    "user": Role("-99", "user", "", frozenset(), built_in=True),
    "moderator": Role("2", "moderator", "", MODERATOR, built_in=True),
    "admin": Role("3", "admin", "", ALL, built_in=True),
    "owner": Role("4", "owner", "", ALL, built_in=True),
}


def parse_permissions(text: str | list[str]) -> frozenset[str]:
    """`a,b` (or a list) as a set of known permission names; UnknownPermission otherwise."""
    names = text.split(",") if isinstance(text, str) else text
    found = {n.strip() for n in names if n.strip()}
    for name in sorted(found):
        if name not in ALL:
            raise UnknownPermission(name)
    return frozenset(found)


@dataclass(frozen=True)
class Operator:
    """Who does an admin action: `name` is what the audit log shows (`cli:root`, `anna`).

    The command line acts as admin, with every permission; a signed-in person with their
    role's (outbox.roles.operator_for looks custom roles up). Without `permissions`, those
    of the built-in `role` (none for any other)."""

    name: str
    role: str = "admin"
    account_id: int | None = None  # the operator's own account (None: the command line)
    permissions: frozenset[str] = field(default=frozenset())

    def __post_init__(self) -> None:
        if not self.permissions and self.role in BUILT_IN:
            object.__setattr__(self, "permissions", BUILT_IN[self.role].permissions)

    def may(self, permission: str) -> bool:
        return permission in self.permissions


def require(operator: Operator, permission: str) -> None:
    if permission not in ALL:
        raise ValueError(f"no such permission {permission!r}")  # a bug in the caller
    if not operator.may(permission):
        raise MissingPermission(permission)


def outranks(operator: Operator, target: frozenset[str]) -> bool:
    """Whether the operator may act on the account of someone holding `target`: only with
    every permission the other holds, and with more of them unless they hold all (so that
    moderators manage plain users, not each other, and admins manage everyone)."""
    if operator.permissions >= ALL:
        return True
    return target < operator.permissions


def may_administer(role: str) -> bool:
    """Whether to offer the admin pages to someone with `role` without asking the database:
    a custom role is assumed to give some permission (the pages check exactly)."""
    built_in = BUILT_IN.get(role)
    return built_in is None or bool(built_in.permissions)
