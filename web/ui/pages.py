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
    admin_emoji,
    admin_federation,
    admin_roles,
    admin_trends,
    consent,
    explore,
    groups,
    invite,
    live,
    notifications,
    policy,
    saved,
    search,
    settings,
    sign_in,
    status_edits,
    statuses,
    timelines,
)

AREAS = (
    sign_in,
    timelines,
    status_edits,
    statuses,
    accounts,
    search,
    explore,
    notifications,
    saved,
    groups,
    settings,
    live,
    consent,
    invite,
    admin,
    admin_federation,
    admin_emoji,
    admin_trends,
    policy,
    admin_roles,
)

routes: list[BaseRoute] = [route for area in AREAS for route in area.routes]
