"""One small module per activity type; importing this package registers them all.

Types without a handler (anything unknown) are stored and marked processed without effect.
"""

from inbox.handlers import (
    accept,
    announce,
    block,
    create,
    delete,
    flag,
    follow,
    like,
    membership,
    move,
    read,
    reject,
    undo,
    update,
)

__all__ = [
    "accept",
    "announce",
    "block",
    "create",
    "delete",
    "flag",
    "follow",
    "like",
    "membership",
    "move",
    "read",
    "reject",
    "undo",
    "update",
]
