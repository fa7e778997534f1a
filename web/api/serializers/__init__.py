"""Rows -> Mastodon client-API JSON. The one place where API entity shapes are defined.

Lists are presented in batches: one query per kind of related row for the whole page, never
one per status, so a timeline page costs a handful of queries whatever its length.

- links: the URLs an entity may carry (this node's, and remote hosts the allowlist admits)
- entities: one row -> Account, Role, MediaAttachment, Tag, Application, Poll
- statuses: pages of statuses (page_facts loads what they need), edit history
- notifications, relationships: the entities of the same names
"""

from web.api.serializers.entities import (
    account,
    application,
    credential_account,
    iso,
    media,
    poll,
    registered_app,
    role,
    status_source,
    tag,
)
from web.api.serializers.links import MISSING_AVATAR, MISSING_HEADER, Links
from web.api.serializers.notifications import notifications
from web.api.serializers.page_facts import STATUS_COLUMNS
from web.api.serializers.relationships import relationships
from web.api.serializers.statuses import status, status_history, statuses

__all__ = [
    "MISSING_AVATAR",
    "MISSING_HEADER",
    "STATUS_COLUMNS",
    "Links",
    "account",
    "application",
    "credential_account",
    "iso",
    "media",
    "notifications",
    "poll",
    "registered_app",
    "relationships",
    "role",
    "status",
    "status_history",
    "status_source",
    "statuses",
    "tag",
]
