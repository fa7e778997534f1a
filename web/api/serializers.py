"""Rows -> Mastodon client-API JSON. The one place where API entity shapes are defined.

Lists are presented in batches: one query per kind of related row for the whole page, never
one per status, so a timeline page costs a handful of queries whatever its length.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from models.base import utcnow
from models.poll import Poll
from models.settings import Settings
from models.tables import (
    Account,
    Block,
    Bookmark,
    Favourite,
    Follow,
    FollowRequest,
    MediaAttachment,
    Mention,
    Mute,
    Notification,
    OAuthApp,
    Pin,
    Status,
    StatusEdit,
    StatusTag,
    Tag,
    User,
)
from outbox.polls import own_votes

MISSING_AVATAR = "/static/avatar.png"
MISSING_HEADER = "/static/header.png"


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def media_url(settings: Settings, path: str | None, fallback: str) -> str:
    return settings.url("/media/" + path) if path else settings.url(fallback)


def account(a: Account, settings: Settings) -> dict[str, Any]:
    avatar = (
        a.avatar_remote_url
        if a.avatar_remote_url and not a.avatar_path
        else media_url(settings, a.avatar_path, MISSING_AVATAR)
    )
    header = (
        a.header_remote_url
        if a.header_remote_url and not a.header_path
        else media_url(settings, a.header_path, MISSING_HEADER)
    )
    url = a.url or settings.url(f"/@{a.username}")
    return {
        "id": str(a.id),
        "username": a.username,
        "acct": a.acct(),
        "display_name": a.display_name,
        "locked": a.locked,
        "bot": a.bot,
        "discoverable": a.discoverable,
        "indexable": a.discoverable,
        "group": a.group,
        "created_at": iso(a.created_at.replace(hour=0, minute=0, second=0, microsecond=0)),
        "note": a.note,
        "url": url,
        "uri": a.uri or settings.url(f"/users/{a.username}"),
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
        "emojis": [],
        "roles": [],
        "fields": [
            {"name": f.get("name", ""), "value": f.get("value", ""), "verified_at": None}
            for f in a.fields
        ],
    }


ROLE_PERMISSIONS = {"admin": "1", "moderator": "1308", "user": "0"}


def role(user: User) -> dict[str, Any]:
    return {
        "id": {"admin": "3", "moderator": "2", "user": "-99"}.get(user.role, "-99"),
        "name": user.role.capitalize() if user.role != "user" else "",
        "color": "",
        "permissions": ROLE_PERMISSIONS.get(user.role, "0"),
        "highlighted": user.role != "user",
    }


def credential_account(a: Account, user: User, settings: Settings) -> dict[str, Any]:
    data = account(a, settings)
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
    data["role"] = role(user)
    return data


def media(m: MediaAttachment, settings: Settings) -> dict[str, Any]:
    url = settings.url("/media/" + m.file_path) if m.file_path else m.remote_url
    # As Mastodon: no preview image for a file that is not one (a PDF, a clip without a frame).
    fallback = url if m.type in ("image", "gifv") else None
    preview = settings.url("/media/" + m.preview_path) if m.preview_path else fallback
    return {
        "id": str(m.id),
        "type": m.type,
        "url": url,
        "preview_url": preview,
        "remote_url": m.remote_url,
        "preview_remote_url": None,
        "text_url": None,
        "meta": m.meta or {},
        "description": m.description,
        "blurhash": m.blurhash,
    }


def tag(t: Tag, settings: Settings, following: bool | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": t.name,
        "url": settings.url(f"/tags/{t.name}"),
        "history": [],
    }
    if following is not None:
        data["id"] = str(t.id)
        data["following"] = following
    return data


def application(app: OAuthApp | None) -> dict[str, Any] | None:
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


async def _by_id(session: AsyncSession, model: Any, ids: Iterable[int]) -> dict[int, Any]:
    wanted = set(ids)
    if not wanted:
        return {}
    rows = (await session.execute(select(model).where(model.id.in_(wanted)))).scalars()
    return {row.id: row for row in rows}


VIEWER_MARKS: tuple[Any, ...] = (Favourite, Bookmark, Pin)


async def _viewer_state(
    session: AsyncSession, viewer_id: int | None, status_ids: set[int]
) -> tuple[set[int], set[int], set[int], set[int]]:
    """Which of the statuses the viewer favourited, bookmarked, pinned and boosted: one query."""
    found: tuple[set[int], set[int], set[int], set[int]] = (set(), set(), set(), set())
    if viewer_id is None or not status_ids:
        return found
    kinds = [
        select(literal(i), model.status_id).where(
            model.account_id == viewer_id, model.status_id.in_(status_ids)
        )
        for i, model in enumerate(VIEWER_MARKS)
    ]
    boosts = select(literal(3), Status.reblog_of_id).where(
        Status.account_id == viewer_id, Status.reblog_of_id.in_(status_ids)
    )
    rows = (await session.execute(union_all(*kinds, boosts))).all()
    for kind, status_id in rows:
        if status_id is not None:
            found[int(kind)].add(int(status_id))
    return found


def poll(p: Poll, own: list[int] | None) -> dict[str, Any]:
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


async def polls_for(
    session: AsyncSession, viewer_id: int | None, status_ids: set[int]
) -> dict[int, dict[str, Any]]:
    """The polls of these statuses, presented for the viewer, by status id."""
    if not status_ids:
        return {}
    rows = (await session.execute(select(Poll).where(Poll.status_id.in_(status_ids)))).scalars()
    found = {p.status_id: p for p in rows}
    if not found:
        return {}
    votes = await own_votes(session, viewer_id, {p.id for p in found.values()})
    return {sid: poll(p, votes.get(p.id, []) if viewer_id else None) for sid, p in found.items()}


async def statuses(
    session: AsyncSession,
    settings: Settings,
    rows: Sequence[Status],
    viewer_id: int | None,
) -> list[dict[str, Any]]:
    """Present a page of statuses (boosts embed the boosted status) for one viewer."""
    boosted = await _by_id(session, Status, {s.reblog_of_id for s in rows if s.reblog_of_id})
    everything = {s.id: s for s in rows} | boosted
    ids = set(everything)
    accounts = await _by_id(session, Account, {s.account_id for s in everything.values()})

    media_rows: Iterable[MediaAttachment] = (
        (
            await session.execute(
                select(MediaAttachment)
                .where(MediaAttachment.status_id.in_(ids))
                .order_by(MediaAttachment.id)
            )
        ).scalars()
        if ids
        else []
    )
    media_by_status: dict[int, list[MediaAttachment]] = {}
    for m in media_rows:
        media_by_status.setdefault(m.status_id or 0, []).append(m)

    mention_rows = (
        (
            await session.execute(
                select(Mention.status_id, Account)
                .join(Account, Account.id == Mention.account_id)
                .where(Mention.status_id.in_(ids))
            )
        ).all()
        if ids
        else []
    )
    mentions_by_status: dict[int, list[Account]] = {}
    for status_id, mentioned in mention_rows:
        mentions_by_status.setdefault(status_id, []).append(mentioned)

    tag_rows = (
        (
            await session.execute(
                select(StatusTag.status_id, Tag)
                .join(Tag, Tag.id == StatusTag.tag_id)
                .where(StatusTag.status_id.in_(ids))
            )
        ).all()
        if ids
        else []
    )
    tags_by_status: dict[int, list[Tag]] = {}
    for status_id, t in tag_rows:
        tags_by_status.setdefault(status_id, []).append(t)

    apps = await _by_id(
        session, OAuthApp, {s.application_id for s in everything.values() if s.application_id}
    )
    favourited, bookmarked, pinned, reblogged = await _viewer_state(session, viewer_id, ids)
    polls = await polls_for(session, viewer_id, ids)

    def one(s: Status) -> dict[str, Any]:
        author = accounts[s.account_id]
        uri = s.uri or settings.url(f"/users/{author.username}/statuses/{s.id}")
        data: dict[str, Any] = {
            "id": str(s.id),
            "uri": uri,
            "url": s.url or (settings.url(f"/@{author.username}/{s.id}") if s.local else uri),
            "created_at": iso(s.created_at),
            "account": account(author, settings),
            "content": s.content,
            "text": s.text if viewer_id == s.account_id else None,
            "visibility": s.visibility,
            "sensitive": s.sensitive,
            "spoiler_text": s.spoiler_text,
            "language": s.language,
            "in_reply_to_id": str(s.in_reply_to_id) if s.in_reply_to_id else None,
            "in_reply_to_account_id": str(s.in_reply_to_account_id)
            if s.in_reply_to_account_id
            else None,
            "reblog": None,
            "application": application(apps.get(s.application_id or 0))
            if s.local and viewer_id == s.account_id
            else None,
            "media_attachments": [media(m, settings) for m in media_by_status.get(s.id, [])],
            "mentions": [
                {
                    "id": str(m.id),
                    "username": m.username,
                    "acct": m.acct(),
                    "url": m.url or settings.url(f"/@{m.username}"),
                }
                for m in mentions_by_status.get(s.id, [])
            ],
            "tags": [tag(t, settings) for t in tags_by_status.get(s.id, [])],
            "emojis": [],
            "card": None,
            "poll": polls.get(s.id),
            "replies_count": s.replies_count,
            "reblogs_count": s.reblogs_count,
            "favourites_count": s.favourites_count,
            "edited_at": iso(s.edited_at),
            "filtered": [],
        }
        if viewer_id is not None:
            data.update(
                favourited=s.id in favourited,
                reblogged=s.id in reblogged,
                muted=False,
                bookmarked=s.id in bookmarked,
                pinned=s.id in pinned,
            )
        return data

    out = []
    for s in rows:
        data = one(s)
        if s.reblog_of_id is not None and s.reblog_of_id in boosted:
            data["reblog"] = one(boosted[s.reblog_of_id])
            data["content"] = ""
        out.append(data)
    return out


async def status(
    session: AsyncSession, settings: Settings, row: Status, viewer_id: int | None
) -> dict[str, Any]:
    return (await statuses(session, settings, [row], viewer_id))[0]


def status_source(row: Status) -> dict[str, Any]:
    return {"id": str(row.id), "text": row.text, "spoiler_text": row.spoiler_text}


async def status_history(
    session: AsyncSession, settings: Settings, row: Status, revisions: Sequence[StatusEdit]
) -> list[dict[str, Any]]:
    """Mastodon's StatusEdit list, oldest first; attachments as each revision had them."""
    author = account(await session.get_one(Account, row.account_id), settings)
    media_ids = {i for r in revisions for i in r.media_ids}
    attachments = await _by_id(session, MediaAttachment, media_ids)
    return [
        {
            "content": r.content,
            "spoiler_text": r.spoiler_text,
            "sensitive": r.sensitive,
            "created_at": iso(r.created_at),
            "account": author,
            "poll": None,
            "media_attachments": [
                media(attachments[i], settings) for i in r.media_ids if i in attachments
            ],
            "emojis": [],
        }
        for r in revisions
    ]


async def notifications(
    session: AsyncSession, settings: Settings, rows: Sequence[Notification], viewer_id: int
) -> list[dict[str, Any]]:
    accounts = await _by_id(session, Account, {n.from_account_id for n in rows})
    status_rows = await _by_id(session, Status, {n.status_id for n in rows if n.status_id})
    presented = {
        s["id"]: s for s in await statuses(session, settings, list(status_rows.values()), viewer_id)
    }
    out = []
    for n in rows:
        if n.from_account_id not in accounts:
            continue
        out.append(
            {
                "id": str(n.id),
                "type": n.type,
                "created_at": iso(n.created_at),
                "group_key": f"ungrouped-{n.id}",
                "account": account(accounts[n.from_account_id], settings),
                "status": presented.get(str(n.status_id)) if n.status_id else None,
            }
        )
    return out


async def relationships(
    session: AsyncSession, viewer_id: int, target_ids: Sequence[int]
) -> list[dict[str, Any]]:
    targets = set(target_ids)

    async def pairs(model: Any, *, reverse: bool = False) -> dict[int, Any]:
        if not targets:
            return {}
        mine, theirs = (
            (model.target_account_id, model.account_id)
            if reverse
            else (model.account_id, model.target_account_id)
        )
        # `mine` is the viewer's side of the row: the actor, or with `reverse` the target.
        rows = (
            await session.execute(select(model).where(mine == viewer_id, theirs.in_(targets)))
        ).scalars()
        return {(r.account_id if reverse else r.target_account_id): r for r in rows}

    following = await pairs(Follow)
    followed_by = await pairs(Follow, reverse=True)
    requested = await pairs(FollowRequest)
    requested_by = await pairs(FollowRequest, reverse=True)
    blocking = await pairs(Block)
    blocked_by = await pairs(Block, reverse=True)
    muting = {t: m for t, m in (await pairs(Mute)).items() if m.in_force}
    out = []
    for target in target_ids:
        follow = following.get(target)
        mute = muting.get(target)
        out.append(
            {
                "id": str(target),
                "following": follow is not None,
                "showing_reblogs": follow.show_reblogs if follow else False,
                "notifying": follow.notify if follow else False,
                "languages": None,
                "followed_by": target in followed_by,
                "blocking": target in blocking,
                "blocked_by": target in blocked_by,
                "muting": mute is not None,
                "muting_notifications": bool(mute and mute.hide_notifications),
                "requested": target in requested,
                "requested_by": target in requested_by,
                "domain_blocking": False,
                "endorsed": False,
                "note": "",
            }
        )
    return out
