"""Single rows -> Mastodon entities: Account, Role, MediaAttachment, Tag, Application, Poll.

Each presenter reads attributes only, so it takes an ORM object or a Core row with the same
column names alike (timeline pages load Core rows: no identity map, no instrumentation).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Row

from models.account import Account, User
from models.base import utcnow
from models.oauth import OAuthApp
from models.poll import Poll
from models.preview_card import PreviewCard
from models.status import MediaAttachment, Status, Tag
from outbox.permissions import BUILT_IN, Role
from web.api.serializers.links import MISSING_AVATAR, MISSING_HEADER, MISSING_MEDIA, Links

AccountFields = Account | Row[Any]
MediaFields = MediaAttachment | Row[Any]
PollFields = Poll | Row[Any]


class TagRef(NamedTuple):
    """A tag as a page's facts query carries it along."""

    id: int
    name: str


def iso(value: datetime | None) -> str | None:
    """`2026-11-22T18:03:20.562Z`: the wall-clock time, to the millisecond (values are UTC)."""
    if value is None:
        return None
    # isoformat is twice as fast as strftime; its first 23 characters are the same digits.
    return value.isoformat(timespec="milliseconds")[:23] + "Z"


def picture(links: Links, path: str | None, remote_url: str | None, fallback: str) -> str:
    """An avatar or header: the node's file, else its copy of the remote one where allowed,
    else `fallback`."""
    if path:
        return links.local("/media/" + path)
    return links.remote(remote_url, fallback)


def handle(username: str, domain: str | None) -> str:
    """The handle as clients show it: `name` for local accounts, `name@host` otherwise."""
    return username if domain is None else f"{username}@{domain}"


def account(a: AccountFields, links: Links) -> dict[str, Any]:
    avatar = picture(links, a.avatar_path, a.avatar_remote_url, MISSING_AVATAR)
    header = picture(links, a.header_path, a.header_remote_url, MISSING_HEADER)
    url = a.url or links.local(f"/@{a.username}")
    return {
        "id": str(a.id),
        "username": a.username,
        "acct": handle(a.username, a.domain),
        "display_name": a.display_name,
        "locked": a.locked,
        "bot": a.bot,
        "discoverable": a.discoverable,
        "indexable": a.discoverable,
        "group": a.group,
        "created_at": iso(a.created_at.replace(hour=0, minute=0, second=0, microsecond=0)),
        "note": a.note,
        "url": url,
        "uri": a.uri or links.local(f"/users/{a.username}"),
        "avatar": avatar,
        "avatar_static": avatar,
        "header": header,
        "header_static": header,
        "followers_count": a.followers_count,
        "following_count": a.following_count,
        "statuses_count": a.statuses_count,
        "last_status_at": a.last_status_at.isoformat() if a.last_status_at else None,
        "hide_collections": False,
        "noindex": False,
        "emojis": links.emojis(
            a.domain,
            a.display_name,
            a.note,
            *(str(f.get(k, "")) for f in a.fields for k in ("name", "value")),
        ),
        "roles": [],
        "fields": [
            {"name": f.get("name", ""), "value": f.get("value", ""), "verified_at": None}
            for f in a.fields
        ],
    }


def role(found: Role | None) -> dict[str, Any]:
    """Mastodon's Role entity; an unknown role (deleted under the user) is the everyone role."""
    found = found or BUILT_IN["user"]
    everyone = found.name == "user"
    return {
        "id": found.id,
        "name": "" if everyone else found.name.capitalize() if found.built_in else found.name,
        "color": found.color,
        "permissions": found.mastodon_bits(),
        "highlighted": not everyone,
    }


def credential_account(a: Account, user: User, links: Links) -> dict[str, Any]:
    data = account(a, links)
    prefs = user.preferences
    data["source"] = {
        "note": a.note_source,
        "fields": [  # as typed: `value` is the rendered HTML, `source` what the owner wrote
            {
                "name": f.get("name", ""),
                "value": f.get("source", f.get("value", "")),
                "verified_at": None,
            }
            for f in a.fields
        ],
        "privacy": prefs.get("posting:default:visibility", "public"),
        "sensitive": bool(prefs.get("posting:default:sensitive", False)),
        "language": prefs.get("posting:default:language") or "",
        "follow_requests_count": 0,
        "hide_collections": False,
        "discoverable": a.discoverable,
        "indexable": a.discoverable,
    }
    data["role"] = role(BUILT_IN.get(user.role))
    return data


def media(m: MediaFields, links: Links, signed_for: int | None = None) -> dict[str, Any]:
    """`signed_for`: the viewer of a confidential attachment, whose URLs are signed for them
    (web.api.attachments); None for a public one."""
    kind, remote_url = m.type, links.allowed(m.remote_url)
    # A remote file is served from this node's copy; `remote_url` keeps where it came from.
    url = links.local("/media/" + m.file_path) if m.file_path else links.cached(remote_url)
    # As Mastodon: no preview image for a file that is not one (a PDF, a clip without a frame).
    preview = url if kind in ("image", "gifv") else None
    if m.preview_path:
        preview = links.local("/media/" + m.preview_path)
    elif m.processing:  # as Mastodon: no URL until the file is ready
        url = preview = None
    elif url is None and m.remote_url:  # on a host apps may not load: the placeholder instead
        kind, url = "unknown", links.local(MISSING_MEDIA)
        preview = url
    if signed_for is not None:
        url, preview = links.signed(url, signed_for), links.signed(preview, signed_for)
    extra = {}
    if m.type == "unknown" and (m.file_path or m.remote_url):
        # Not in Mastodon's entity (apps ignore them): what the pages show for a download.
        # A remote document's come from its node (inbox.parse_notes); 0 is "not known".
        extra = {"file_name": m.file_name, "file_size": m.original_bytes or m.file_size}
    return extra | {
        "id": str(m.id),
        "type": kind,
        "url": url,
        "preview_url": preview,
        "remote_url": remote_url,
        "preview_remote_url": None,
        "text_url": None,
        "meta": m.meta or {},
        "description": m.description,
        "blurhash": m.blurhash,
    }


def card(c: PreviewCard | Row[Any], links: Links) -> dict[str, Any]:
    """Mastodon's PreviewCard, every field present (apps break on a missing one)."""
    image = links.cached(c.image_url) if c.image_url else None
    return {
        "url": c.url or c.link,
        "title": c.title,
        "description": c.description,
        "language": None,
        "type": c.type,
        "author_name": c.author_name,
        "author_url": c.author_url,
        "provider_name": c.provider_name,
        "provider_url": c.provider_url,
        "html": c.html,
        "width": c.width,
        "height": c.height,
        "image": image,
        "image_description": c.image_description,
        "embed_url": c.embed_url,
        "blurhash": c.blurhash,
        "published_at": iso(c.published_at),
        "authors": [{"name": c.author_name, "url": c.author_url, "account": None}]
        if c.author_name
        else [],
        "history": [],
    }


def tag(t: Tag | TagRef, links: Links, following: bool | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": t.name,
        "url": links.local(f"/tags/{t.name}"),
        "history": [],
    }
    if following is not None:
        data["id"] = str(t.id)
        data["following"] = following
    return data


def application(app: OAuthApp | Row[Any] | None) -> dict[str, Any] | None:
    if app is None:
        return None
    return {"name": app.name, "website": app.website}


def registered_app(app: OAuthApp, vapid_key: str, *, credentials: bool) -> dict[str, Any]:
    """Mastodon's Application; `credentials` adds the client id and secret (registration)."""
    redirect_uris = app.redirect_uris.split()
    data: dict[str, Any] = {
        "id": str(app.id),
        "name": app.name,
        "website": app.website,
        "scopes": app.scopes.split(),
        "redirect_uri": "\n".join(redirect_uris),
        "redirect_uris": redirect_uris,
        "vapid_key": vapid_key,
    }
    if credentials:
        data["client_id"] = app.client_id
        data["client_secret"] = app.client_secret
        data["client_secret_expires_at"] = 0
    return data


def poll(p: PollFields, own: list[int] | None) -> dict[str, Any]:
    """Mastodon's Poll; `own` is the viewer's choices (None: anonymous viewer)."""
    ended = p.expires_at is not None and p.expires_at <= utcnow()
    show_counts = not p.hide_totals or ended
    return {
        "id": str(p.id),
        "expires_at": iso(p.expires_at),
        "expired": ended,
        "multiple": p.multiple,
        "votes_count": p.votes_count,
        "voters_count": p.voters_count if p.multiple else None,
        "options": [
            {"title": title, "votes_count": p.tallies[i] if show_counts else None}
            for i, title in enumerate(p.options)
        ],
        "emojis": [],
        **({"voted": bool(own), "own_votes": own or []} if own is not None else {}),
    }


def status_source(row: Status) -> dict[str, Any]:
    return {"id": str(row.id), "text": row.text, "spoiler_text": row.spoiler_text}
