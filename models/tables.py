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
from models.compliance import StatusHold, WatchTerm
from models.conversation import ConversationMark
from models.csv_import import CsvImport, CsvImportRow
from models.discovery import SuggestionDismissal, TrendItem, TrendReview, TrendRun
from models.emoji import CustomEmoji
from models.federation import (
    AllowlistAudit,
    AllowlistEntry,
    DeletedNote,
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
from models.moderation import AccountWarning, Appeal, Report
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
from models.preview_card import PreviewCard
from models.push import PushJob, PushSubscription
from models.relationship import Block, Follow, FollowRequest, Mute
from models.remote_file import RemoteFile
from models.retention import HeldStatus, LegalHold, PersonalArchive, RetentionRule
from models.role import CustomRole
from models.scim import ScimGroup, ScimGroupMember, ScimToken, ScimUser
from models.sign_on import SignOnIdentity
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
    "AccountWarning",
    "AdminAction",
    "AllowlistAudit",
    "AllowlistEntry",
    "Announcement",
    "AnnouncementHost",
    "AnnouncementMark",
    "AnnouncementReaction",
    "Appeal",
    "AuthorizationCode",
    "Base",
    "Block",
    "Bookmark",
    "BrowserSession",
    "ConversationMark",
    "ConversationMute",
    "CsvImport",
    "CsvImportRow",
    "CustomEmoji",
    "CustomRole",
    "DeletedNote",
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
    "HeldStatus",
    "IdempotencyKey",
    "InboxActivity",
    "Invite",
    "LegalHold",
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
    "PersonalArchive",
    "Pin",
    "PolicyAcceptance",
    "PolicyVersion",
    "Poll",
    "PollVote",
    "PreviewCard",
    "PushJob",
    "PushSubscription",
    "RemoteFile",
    "Report",
    "RetentionRule",
    "ScheduledStatus",
    "ScimGroup",
    "ScimGroupMember",
    "ScimToken",
    "ScimUser",
    "SignOnIdentity",
    "Status",
    "StatusEdit",
    "StatusHold",
    "StatusTag",
    "SuggestionDismissal",
    "Tag",
    "TrendItem",
    "TrendReview",
    "TrendRun",
    "User",
    "WatchTerm",
    "WorkerHeartbeat",
]
