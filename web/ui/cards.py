"""Status cards rendered once: a reader who reloads a timeline sees the same statuses again,
and the card's HTML depends only on what is in the key below.

The key is the status as the API presented it to this reader (so a new favourite, an edit or
a vote makes a new card), the page's language, path and CSRF token (the card's forms carry
both) and the reader. The cache is per process and bounded; a miss only costs a render.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

CARDS = 2048  # key and card ~5 KB together: ~10 MB at most
_cards: OrderedDict[tuple[bytes, str, str, str, str, bool], Markup] = OrderedDict()


@pass_context
def cached_card(
    context: Context, render: Callable[..., Any], status: Mapping[str, Any], focus: bool = False
) -> Markup:
    me = context.get("me")
    key = (
        orjson.dumps(status),
        str(context.get("lang")),
        str(context.get("path")),
        str(context.get("csrf_token")),
        str(me.id) if me is not None else "",
        bool(focus),
    )
    card = _cards.get(key)
    if card is not None:
        _cards.move_to_end(key)
        return card
    card = Markup(render(status, focus))
    _cards[key] = card
    if len(_cards) > CARDS:
        _cards.popitem(last=False)
    return card
