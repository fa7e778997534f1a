"""Every table, imported in one place so that metadata and migrations see them all."""

from models.account import Account, User
from models.admin import AdminAction, NodeRule, NodeSetting
from models.announcement import (
    Announcement,
    AnnouncementHost,
    AnnouncementMark,
    AnnouncementReaction,
)
from models.base import Base
from models.browser_session import BrowserSession
from models.conversation import ConversationMark
from models.discovery import SuggestionDismissal, TrendItem, TrendReview, TrendRun
from models.emoji import CustomEmoji
from models.federation import (
    AllowlistAudit,
    AllowlistEntry,
    Delivery,
    InboxActivity,
    NodeKey,
    OutboxActivity,
    PeerDeliveryHour,
    PeerHost,
    WorkerHeartbeat,
)
from models.filters import Filter, FilterKeyword, FilterStatus
from models.group import Group, GroupRole
from models.interaction import Bookmark, Favourite, Pin
from models.invite import Invite
from models.notification import Notification
from models.oauth import AccessToken, AuthorizationCode, OAuthApp
from models.personal import (
    AccountNote,
    ConversationMute,
    DomainBlock,
    Endorsement,
    FeaturedTag,
    NotificationPolicy,
)
from models.policy import PolicyAcceptance, PolicyVersion
from models.poll import Poll, PollVote, ScheduledStatus
from models.push import PushJob, PushSubscription
from models.relationship import Block, Follow, FollowRequest, Mute
from models.role import CustomRole
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
    "AccountNote",
    "AdminAction",
    "AllowlistAudit",
    "AllowlistEntry",
    "Announcement",
    "AnnouncementHost",
    "AnnouncementMark",
    "AnnouncementReaction",
    "AuthorizationCode",
    "Base",
    "Block",
    "Bookmark",
    "BrowserSession",
    "ConversationMark",
    "ConversationMute",
    "CustomEmoji",
    "CustomRole",
    "Delivery",
    "DomainBlock",
    "Endorsement",
    "Favourite",
    "FeaturedTag",
    "FeedEntry",
    "Filter",
    "FilterKeyword",
    "FilterStatus",
    "Follow",
    "FollowRequest",
    "FollowedTag",
    "Group",
    "GroupRole",
    "IdempotencyKey",
    "InboxActivity",
    "Invite",
    "List",
    "ListAccount",
    "Marker",
    "MediaAttachment",
    "Mention",
    "Mute",
    "NodeKey",
    "NodeRule",
    "NodeSetting",
    "Notification",
    "NotificationPolicy",
    "OAuthApp",
    "OutboxActivity",
    "PeerDeliveryHour",
    "PeerHost",
    "Pin",
    "PolicyAcceptance",
    "PolicyVersion",
    "Poll",
    "PollVote",
    "PushJob",
    "PushSubscription",
    "ScheduledStatus",
    "Status",
    "StatusEdit",
    "StatusTag",
    "SuggestionDismissal",
    "Tag",
    "TrendItem",
    "TrendReview",
    "TrendRun",
    "User",
    "WorkerHeartbeat",
]
