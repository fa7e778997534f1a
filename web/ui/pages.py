"""The node's own pages, gathered from the modules of each area.

Each area module exposes `routes`; admin pages join here the same way. Order matters where
paths overlap: `/@name/followers` before `/@name/ID`.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from web.ui import (
    accounts,
    consent,
    live,
    notifications,
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
    notifications,
    saved,
    settings,
    live,
    consent,
)

routes: list[BaseRoute] = [route for area in AREAS for route in area.routes]
