"""SCIM resources (scim2-models) to and from what outbox.scim keeps: users are local
accounts, groups the directory's groups. Also what the discovery endpoints publish.

Requests are read as the core User with the enterprise extension, so that a directory's
usual mapping (title, addresses, department, …) is accepted; what the node does not keep is
ignored, and the published User schema lists only what it keeps. `userName` is immutable
there (and a change is refused with `mutability`): it is the account's address on every
node, so it cannot be renamed.
"""

from __future__ import annotations

from typing import Any

from scim2_models import (
    Attribute,
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Email,
    EnterpriseUser,
    ETag,
    Filter,
    Group,
    GroupMember,
    GroupMembership,
    Meta,
    Mutability,
    Patch,
    Required,
    ResourceType,
    Schema,
    ServiceProviderConfig,
    Sort,
    User,
)

from models.settings import Settings
from outbox import scim, scim_groups
from outbox.scim import ScimProblem, UserFacts
from outbox.scim_groups import GroupFacts

BASE = "/scim/v2"
MAX_RESULTS = 200


DirectoryUser = User[EnterpriseUser]
# What the node keeps of a user, and so what its User schema publishes.
KEPT_USER_ATTRIBUTES = ("userName", "displayName", "active", "emails", "groups")


def _ref(url: str) -> Any:
    """A URL as scim2-models' Reference types (a str, checked when validated)."""
    return url


def location(settings: Settings, kind: str, row_id: int | str) -> str:
    return settings.url(f"{BASE}/{kind}/{row_id}")


def user_resource(settings: Settings, found: scim.Provisioned) -> DirectoryUser:
    account, user = found.account, found.user
    return DirectoryUser(
        id=str(account.id),
        external_id=found.external_id,
        user_name=account.username,
        display_name=account.display_name or None,
        active=not user.disabled,
        emails=[Email(value=user.email)] if user.email else None,
        groups=[
            GroupMembership(
                value=str(group_id),
                display=name,
                ref=_ref(location(settings, "Groups", group_id)),
                type="direct",
            )
            for group_id, name in found.groups
        ]
        or None,
        meta=Meta(
            resource_type="User",
            created=account.created_at,
            last_modified=max(account.updated_at, account.created_at),
            location=location(settings, "Users", account.id),
        ),
    )


def user_facts(resource: User[Any], *, active_before: bool = True) -> UserFacts:
    """What a request's (or a patched) User says; `active` left out keeps what it was."""
    name = resource.user_name or ""
    display = resource.display_name
    if not display and resource.name is not None:
        given = " ".join(p for p in (resource.name.given_name, resource.name.family_name) if p)
        display = resource.name.formatted or given or None
    emails = [e for e in resource.emails or [] if e.value]
    primary = next((e for e in emails if e.primary), emails[0] if emails else None)
    email = str(primary.value) if primary is not None else None
    return UserFacts(
        user_name=name,
        display_name=display,
        email=email,
        active=active_before if resource.active is None else bool(resource.active),
        external_id=resource.external_id,
    )


def group_resource(settings: Settings, group: scim_groups.Group) -> Group:
    row = group.row
    return Group(
        id=str(row.id),
        external_id=row.external_id,
        display_name=row.display_name,
        members=[
            GroupMember(
                value=str(account_id),
                ref=_ref(location(settings, "Users", account_id)),
                type="User",
            )
            for account_id, name in group.members
        ]
        or None,
        meta=Meta(
            resource_type="Group",
            created=row.created_at,
            last_modified=row.updated_at,
            location=location(settings, "Groups", row.id),
        ),
    )


def group_facts(resource: Group) -> GroupFacts:
    members = []
    for member in resource.members or []:
        value = str(member.value or "")
        if member.type is not None and str(member.type) != "User":
            raise ScimProblem("members: only users can be members (no nested groups)")
        if not (value.isascii() and value.isdigit() and len(value) <= 19 and int(value) < 2**63):
            raise ScimProblem(f"members: {value[:40]!r} is not the id of a user of this node")
        members.append(int(value))
    return GroupFacts(
        display_name=resource.display_name or "",
        external_id=resource.external_id,
        members=tuple(dict.fromkeys(members)),
    )


# --- discovery -----------------------------------------------------------------------------


def service_provider_config(settings: Settings) -> ServiceProviderConfig:
    return ServiceProviderConfig(
        documentation_uri=_ref(settings.url("/about")),
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=MAX_RESULTS),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=False),
        etag=ETag(supported=False),
        authentication_schemes=[
            AuthenticationScheme(
                type=AuthenticationScheme.Type.oauthbearertoken,
                name="Bearer token",
                description="A token from `flurfunk scim token`, sent as Authorization: Bearer",
                primary=True,
            )
        ],
        meta=Meta(
            resource_type="ServiceProviderConfig",
            location=settings.url(f"{BASE}/ServiceProviderConfig"),
        ),
    )


def _user_schema() -> Schema:
    schema = User.to_schema()
    schema.attributes = [a for a in schema.attributes or [] if a.name in KEPT_USER_ATTRIBUTES]
    for attribute in schema.attributes:
        if attribute.name == "userName":
            attribute.mutability = Mutability.immutable
        if attribute.name == "active":  # always there: true, or false when deactivated
            attribute.required = Required.true
        if attribute.name == "emails":  # one address (the primary one), to sign in with
            attribute.sub_attributes = _only(attribute.sub_attributes, ("value",))
    return schema


def _group_schema() -> Schema:
    schema = Group.to_schema()
    for attribute in schema.attributes or []:
        if attribute.name == "members":  # RFC 7643 §4.2: value, $ref and type
            attribute.sub_attributes = _only(attribute.sub_attributes, ("value", "$ref", "type"))
    return schema


def _only(attributes: list[Attribute] | None, names: tuple[str, ...]) -> list[Attribute]:
    return [a for a in attributes or [] if a.name in names]


def schemas(settings: Settings) -> list[Schema]:
    found = []
    for schema in (_user_schema(), _group_schema()):
        schema.meta = Meta(
            resource_type="Schema", location=settings.url(f"{BASE}/Schemas/{schema.id}")
        )
        found.append(schema)
    return found


def resource_types(settings: Settings) -> list[ResourceType]:
    found = []
    for model in (User, Group):
        kind = ResourceType.from_resource(model)
        kind.meta = Meta(
            resource_type="ResourceType", location=settings.url(f"{BASE}/ResourceTypes/{kind.id}")
        )
        found.append(kind)
    return found
