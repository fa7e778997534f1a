"""Every table, imported in one place so that metadata and migrations see them all."""

from models.account import Account, User
from models.base import Base
from models.interaction import Bookmark, Favourite, Pin
from models.notification import Notification
from models.oauth import AccessToken, AuthorizationCode, OAuthApp
from models.relationship import Block, Follow, FollowRequest, Mute
from models.status import (
    IdempotencyKey,
    MediaAttachment,
    Mention,
    Status,
    StatusEdit,
    StatusTag,
    Tag,
)
from models.timeline import FeedEntry, FollowedTag, List, ListAccount, Marker

__all__ = [
    "AccessToken",
    "Account",
    "AuthorizationCode",
    "Base",
    "Block",
    "Bookmark",
    "Favourite",
    "FeedEntry",
    "Follow",
    "FollowRequest",
    "FollowedTag",
    "IdempotencyKey",
    "List",
    "ListAccount",
    "Marker",
    "MediaAttachment",
    "Mention",
    "Mute",
    "Notification",
    "OAuthApp",
    "Pin",
    "Status",
    "StatusEdit",
    "StatusTag",
    "Tag",
    "User",
]
