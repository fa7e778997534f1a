"""Add and Remove: a group of another node adds a local account to its members, or removes
it (the member stops receiving the group's posts at once). Other uses are ignored."""

from __future__ import annotations

from inbox import groups
from inbox.dispatch import Incoming, handles


@handles("Add")
async def add(incoming: Incoming) -> None:
    await groups.membership(incoming, adding=True)


@handles("Remove")
async def remove(incoming: Incoming) -> None:
    await groups.membership(incoming, adding=False)
