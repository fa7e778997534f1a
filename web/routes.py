"""Every route of the node, gathered from the modules that own them."""

from __future__ import annotations

from starlette.routing import BaseRoute

from web import health
from web.api import (
    accounts,
    apps,
    instance,
    media,
    misc,
    notifications,
    oauth,
    registrations,
    search,
    statuses,
    timelines,
)
from web.ui import pages


def routes() -> list[BaseRoute]:
    modules = (
        apps,
        oauth,
        instance,
        registrations,
        accounts,
        statuses,
        timelines,
        notifications,
        search,
        media,
        misc,
        pages,
        health,
    )
    return [route for module in modules for route in module.routes]
