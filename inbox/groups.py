"""Groups (FEP-1b12) as they arrive: posts for a group of this node, and what a group of
another node relays to its members here.

On the group's node a Create addressed to a local group (by `audience`, addressing or a
mention) is checked: a member with the right to post has it stored and Announced unchanged to
the members; anyone else gets a Reject whose object is the Create, and nobody sees the post.

A member's Like (or Undo of it) of a post in a local group is counted and relayed the same
way; a non-member's Like of a members-only post gets a Reject and reaches nobody.

On a member's node an Announce by a group whose object is an activity (Create, Update,
Delete, Like or Undo of a Like) is taken only when someone here is a member. The embedded
activity comes from a third host, so it must carry an Object Integrity Proof (FEP-8b32) by
its author's assertion key; the group's own activities (a moderator's Delete) are vouched
for by its HTTP signature.
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import or_, select

from federation import proofs
from inbox.dereference import FetchError
from inbox.dispatch import Incoming, handler_for
from inbox.notes import fetch, is_ours, remote_actor, store_note
from inbox.parse import Unusable, authority, type_of, uri_of, uris
from inbox.parse_notes import author_of, is_note
from inbox.targets import account_by_uri, followed_here, status_by_uri
from models.account import Account
from models.group import Group
from models.status import GROUP_ONLY, Status
from outbox import account_removal, group_relay, groups, interactions, relationships
from outbox.status_parts import StatusProblem

RELAYED = frozenset({"Create", "Update", "Delete", "Like", "Undo"})
_ADDRESS_KEYS = ("audience", "to", "cc")
_keys: dict[
    str, Ed25519PublicKey
] = {}  # verified assertion keys by key id (a key is re-fetched on failure)
MAX_KEYS = 10_000


def _candidates(*documents: Any) -> set[str]:
    found: set[str] = set()
    for document in documents:
        if not isinstance(document, dict):
            continue
        for key in _ADDRESS_KEYS:
            found.update(uris(document.get(key))[:100])
        tags = document.get("tag")
        for tag in (tags if isinstance(tags, list) else [tags])[:100]:
            if isinstance(tag, dict) and tag.get("type") == "Mention":
                found.update(uris(tag.get("href")))
    return found


async def addressed_group(incoming: Incoming, document: Any) -> tuple[Account, Group] | None:
    """The local group a note is posted in, if any."""
    # A local group's URI and followers collection live on this node: others cannot name one.
    candidates = {u for u in _candidates(document, incoming.activity) if is_ours(incoming.fed, u)}
    if not candidates:
        return None
    row = (
        await incoming.session.execute(
            select(Account, Group)
            .join(Group, Group.account_id == Account.id)
            .where(
                Account.domain.is_(None),
                or_(Account.uri.in_(candidates), Account.followers_url.in_(candidates)),
            )
            .order_by(Account.id)
            .limit(1)
        )
    ).first()
    return (row[0], row[1]) if row else None


async def receive_post(incoming: Incoming, document: dict[str, Any]) -> bool:
    """A post for a local group: relayed or rejected; False when it is for no group here."""
    found = await addressed_group(incoming, document)
    if found is None:
        return False
    group_account, group = found
    session, fed, author = incoming.session, incoming.fed, incoming.actor
    if not await groups.may_post(session, group, author.id):
        await group_relay.reject_post(session, fed, group_account, author, incoming.activity)
        return True
    status = await store_note(fed, session, document, solicited=True, activity=incoming.activity)
    if status is not None and status.audience_id is None:
        status.audience_id = group_account.id  # a sender that does not set `audience`
    await group_relay.relay(session, fed, group_account, group, incoming.activity)
    return True


async def relay_change(incoming: Incoming, status: Status | None) -> None:
    """After a member's Update or Delete of a post in a local group: on to the members."""
    if status is None or status.audience_id is None:
        return
    group_account = await incoming.session.get(Account, status.audience_id)
    if group_account is None or not group_account.is_local:
        return
    group = await incoming.session.get(Group, group_account.id)
    if group is not None:
        await group_relay.relay(
            incoming.session, incoming.fed, group_account, group, incoming.activity
        )


async def _local_group(incoming: Incoming, status: Status) -> tuple[Account, Group] | None:
    if status.audience_id is None:
        return None
    group_account = await incoming.session.get(Account, status.audience_id)
    if group_account is None or not group_account.is_local:
        return None
    group = await incoming.session.get(Group, group_account.id)
    return None if group is None else (group_account, group)


async def receive_like(incoming: Incoming, status: Status) -> bool:
    """A Like of a post in a local group: a member's is counted and relayed, a non-member's
    of a members-only post is rejected; False when the group does not handle it (no group
    here, or a non-member's Like of a public group's post: an ordinary Like)."""
    found = await _local_group(incoming, status)
    if found is None:
        return False
    group_account, group = found
    session, actor = incoming.session, incoming.actor
    if not await groups.is_member(session, group_account.id, actor.id):
        if group.visibility == "public" and status.visibility != GROUP_ONLY:
            return False
        await group_relay.reject_post(
            session, incoming.fed, group_account, actor, incoming.activity
        )
        return True
    try:
        await interactions.favourite(
            session, actor, status.id, uri=uri_of(incoming.activity.get("id")), vouched=True
        )
    except StatusProblem:
        raise Unusable("the liked status is gone") from None
    await group_relay.relay(session, incoming.fed, group_account, group, incoming.activity)
    return True


# --- on a member's node ----------------------------------------------------------------------


def is_relay(incoming: Incoming) -> bool:
    inner = incoming.object
    return incoming.actor.group and isinstance(inner, dict) and type_of(inner) in RELAYED


async def receive_relay(incoming: Incoming) -> None:
    """An activity a group relays to its members here."""
    session, group = incoming.session, incoming.actor
    inner: dict[str, Any] = incoming.object
    if not await followed_here(session, group.id):
        return  # nobody here is a member
    actor_uri = uri_of(inner.get("actor"))
    if actor_uri is None:
        raise Unusable("the relayed activity names no actor")
    if actor_uri == group.uri:
        await _group_acts(incoming, inner)
        return
    if authority(uri_of(inner.get("id")) or "") != authority(actor_uri):
        raise Unusable("the relayed activity lives on another host than its actor")
    await _check_proof(incoming, inner, actor_uri)
    author = await remote_actor(incoming.fed, session, actor_uri)
    if author.is_local:
        return  # our own member's post, back from the group: we have it
    if type_of(inner) == "Create":
        document = inner.get("object")
        if not isinstance(document, dict) or not is_note(document):
            raise Unusable("the relayed Create carries no note")
        if author_of(document) != actor_uri:
            raise Unusable("the relayed Create carries no note by its actor")
        if uri_of(document.get("audience")) != group.uri:
            raise Unusable("the relayed note is not posted in this group")
        await store_note(incoming.fed, session, document, solicited=True, activity=inner)
        return
    if type_of(inner) == "Like":
        await _relayed_like(incoming, inner, author)
        return
    if type_of(inner) == "Undo" and type_of(inner.get("object")) != "Like":
        raise Unusable("a group relays only the Undo of a Like")
    handler = handler_for(type_of(inner) or "")
    if handler is not None:  # Update, Delete: as if the author had sent them here
        await handler(Incoming(incoming.fed, session, inner, author))


async def _relayed_like(incoming: Incoming, inner: dict[str, Any], author: Account) -> None:
    """A member's Like of a post in the group: counted here (and notified to its author)."""
    status = await status_by_uri(incoming.session, uri_of(inner.get("object")))
    if status is None:
        return
    if status.audience_id != incoming.actor.id:
        raise Unusable("the relayed Like is of a post that is not in this group")
    try:
        await interactions.favourite(
            incoming.session, author, status.id, uri=uri_of(inner.get("id")), vouched=True
        )
    except StatusProblem:
        return


async def _group_acts(incoming: Incoming, inner: dict[str, Any]) -> None:
    """The group's own activity: a moderator removed a post of the group."""
    if type_of(inner) != "Delete":
        return
    status = await status_by_uri(incoming.session, uri_of(inner.get("object")))
    if status is None or status.audience_id != incoming.actor.id:
        return  # only posts of this group are the group's to remove
    author = await incoming.session.get(Account, status.account_id)
    if author is not None:
        await account_removal.remove_status(incoming.session, author, status.id)


async def _check_proof(incoming: Incoming, inner: dict[str, Any], actor_uri: str) -> None:
    key_ids = [k for k in proofs.verification_methods(inner) if k.split("#")[0] == actor_uri]
    if not key_ids:
        raise Unusable("the relayed activity carries no proof by its actor")
    key_id = key_ids[0]
    cached = _keys.get(key_id)
    if cached is not None:
        try:
            proofs.verify(inner, key_id, cached)
            return
        except proofs.ProofError:
            pass  # rotated: fetch the actor again
    try:
        key = proofs.assertion_key(await fetch(incoming.fed, actor_uri), key_id)
        proofs.verify(inner, key_id, key)
    except (proofs.ProofError, FetchError) as exc:
        raise Unusable(f"the relayed activity's proof does not hold: {exc}") from None
    if len(_keys) >= MAX_KEYS:
        _keys.clear()
    _keys[key_id] = key


# --- membership, from the group's node -------------------------------------------------------


async def membership(incoming: Incoming, adding: bool) -> bool:
    """Add/Remove of a local account to/from a group's members collection; False when the
    activity is about something else."""
    group = incoming.actor
    target = uri_of(incoming.activity.get("target"))
    if not group.group or target is None:
        return False
    if target not in (group.followers_url, (group.uri or "") + "/followers"):
        return target == (group.uri or "") + "/moderators"  # roles change nothing here
    member = await account_by_uri(incoming.session, uri_of(incoming.object))
    if member is None or not member.is_local:
        raise Unusable("the Add or Remove names no account of this node")
    if adding:
        await relationships.admit(incoming.session, member, group)
    else:
        await relationships.drop_follower(incoming.session, member, group)
    return True
