"""Every route of the node, gathered from the modules that own them."""

from __future__ import annotations

from starlette.routing import BaseRoute

from web import activitypub, health, metrics, streaming, webfinger, wellknown
from web.api import (
    accounts,
    admin_accounts,
    admin_domain_allows,
    admin_peers,
    announcements,
    apps,
    conversations,
    emojis,
    filters,
    filters_v1,
    grouped_notifications,
    groups,
    instance,
    lists,
    markers,
    media,
    misc,
    notifications,
    oauth,
    personal,
    policy,
    polls,
    push,
    registrations,
    relationships,
    roles,
    search,
    statuses,
    suggestions,
    tags,
    tier2,
    timelines,
    trends,
    unoffered,
)
from web.ui import pages


def routes() -> list[BaseRoute]:
    modules = (
        # First: the router tries routes in order, and inboxes take the most requests.
        activitypub,
        apps,
        oauth,
        instance,
        registrations,
        personal,  # before accounts and statuses: notes, endorsements, thread mutes
        accounts,
        relationships,
        groups,
        statuses,
        polls,
        policy,
        timelines,
        trends,
        suggestions,
        tier2,  # before notifications: /notifications/requests is no notification id
        lists,
        filters,
        filters_v1,
        conversations,
        markers,
        push,
        tags,
        notifications,
        grouped_notifications,
        search,
        unoffered,
        media,
        emojis,
        misc,
        admin_accounts,
        admin_domain_allows,
        admin_peers,
        roles,
        announcements,
        pages,
        health,
        metrics,
        streaming,
        wellknown,
        webfinger,
    )
    return [route for module in modules for route in module.routes]
