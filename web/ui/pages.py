"""The node's own pages, gathered from the modules of each area.

Each area module exposes `routes`. Admin pages join here the same way: a module (say
`web/ui/admin.py`) whose handlers start with `await access.staff(request)` (403 page for
others), render with `render.page` and read and write through `calls.api`, its words in the
catalogues. Order matters where paths overlap: `/@name/followers` before `/@name/ID`.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from web.ui import (
    accounts,
    admin,
    admin_compliance,
    admin_emoji,
    admin_federation,
    admin_retention,
    admin_roles,
    admin_trends,
    announcements,
    consent,
    explore,
    groups,
    invite,
    live,
    moderation,
    notifications,
    policy,
    saved,
    search,
    settings,
    sign_in,
    sign_on,
    status_edits,
    statuses,
    timelines,
    your_data,
)

AREAS = (
    sign_in,
    sign_on,
    timelines,
    status_edits,
    moderation,
    statuses,
    accounts,
    search,
    explore,
    notifications,
    saved,
    groups,
    settings,
    your_data,
    live,
    consent,
    invite,
    admin,
    admin_federation,
    admin_emoji,
    admin_trends,
    policy,
    admin_roles,
    admin_compliance,
    admin_retention,
    announcements,
)

routes: list[BaseRoute] = [route for area in AREAS for route in area.routes]
