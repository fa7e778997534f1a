"""What clients send as ids, numbers, handles and times becomes a value or a 4xx ApiError —
never another exception (property tests with Hypothesis)."""

from __future__ import annotations

import string
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from outbox.content import URL_WEIGHT, countable_length, mentioned_handles, render
from web.api.errors import ApiError
from web.api.params import Params, parse_id
from web.api.polls import parse_time
from web.api.resolve import _split_handle

FAST = settings(max_examples=100, deadline=None, database=None)
VALUES = st.one_of(
    st.text(string.digits + "-+ ²٣\uff11e.x", max_size=25),
    st.text(max_size=30),
    st.integers(),
    st.booleans(),
    st.none(),
    st.floats(),
    st.lists(st.integers(), max_size=2),
)


def refused_with_4xx(call: Any, *args: Any) -> Any:
    """`call`'s value, or None when it refused with a 4xx; anything else fails the test."""
    status = 0
    try:
        return call(*args)
    except ApiError as exc:
        status = exc.status
    assert 400 <= status < 500
    return None


@FAST
@given(VALUES)
@example("²")
@example("9" * 19)
def test_ids_and_numbers_are_values_or_4xx(value: Any) -> None:
    found = refused_with_4xx(parse_id, value)
    assert found is None or 0 <= found < 1 << 63
    params = Params({"limit": value, "id": value})
    number = refused_with_4xx(lambda: params.number("limit", 20, minimum=1, maximum=40))
    assert number is None or 1 <= number <= 40
    refused_with_4xx(lambda: params.id("id"))


@FAST
@given(st.text(max_size=40) | st.datetimes().map(lambda d: d.isoformat() + "Z"))
@example("9999-12-31T23:59:59Z")
@example("+10000-01-01T00:00:00Z")
def test_scheduled_times_are_values_or_4xx(text: str) -> None:
    moment = refused_with_4xx(parse_time, text)
    assert moment is None or moment.tzinfo is not None


STATUS_TEXT = st.lists(
    st.sampled_from(["http://", "https://", "[::1", "]", ":", "99999", "@ana", "@hq.example", "#"])
    | st.text(alphabet=string.ascii_letters + string.digits + "@.:[]/_-² ", max_size=8),
    max_size=10,
).map("".join)


@FAST
@given(STATUS_TEXT)
@example("@ana@[::1")
@example("see http://[::1 now")
@example("ana@hq.example:99999")
def test_handles_split_or_are_nothing(text: str) -> None:
    parts = _split_handle(text)
    if parts is not None:
        name, domain = parts
        assert name
        assert domain
        assert "@" not in domain
    for handle in mentioned_handles(text, "hq.flurfunk.test"):
        assert handle.username
    assert countable_length(text) <= len(text) + URL_WEIGHT * text.count("http")
    for content_type in ("text/plain", "text/markdown"):
        rendered = render(text, public_url="https://hq.flurfunk.test", content_type=content_type)
        assert "<script" not in rendered.html
