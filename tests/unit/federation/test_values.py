"""federation.values: every request-derived URL, handle, time, number, id and JSON body is a
valid result or an InvalidValue — never another exception (property tests with Hypothesis)."""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from federation import values
from federation.values import InvalidValue

FAST = settings(max_examples=100, deadline=None, database=None)

# Text that looks like what hostile senders write: URL punctuation, brackets, digits that are
# not ASCII digits, controls, and a little of everything else.
TRICKY = st.sampled_from(
    [*":/[]@?#%.-_~+!$&'()*,;=", "²", "٣", "\uff11", "\x00", "\n", " ", "\u202e", "ß", "İ", "[::1"]
)
URL_TEXT = st.lists(
    st.one_of(
        TRICKY,
        st.sampled_from(["http://", "https://", "ftp://", "//", "http:", "HTTP://"]),
        st.sampled_from(["example.com", "hq.flurfunk.test", "localhost", "127.0.0.1", "[::1]"]),
        st.text(string.ascii_letters + string.digits, max_size=6),
        st.integers(-5, 100_000).map(str),
    ),
    max_size=12,
).map("".join)
ANY_TEXT = st.one_of(st.text(max_size=80), URL_TEXT)


REFUSED = object()


def outcome(parse: Any, *args: Any, **kwargs: Any) -> Any:
    """The parser's result, or REFUSED for an InvalidValue; any other exception fails the test."""
    try:
        return parse(*args, **kwargs)
    except InvalidValue:
        return REFUSED


@FAST
@given(ANY_TEXT)
@example("http://[::1")
@example("http://[::1]x/")
@example("http://h:99999/")
@example("http://h:²/")
def test_urls_parse_or_fail_typed(text: str) -> None:
    parts = outcome(values.http_url, text)
    if parts is REFUSED:
        assert outcome(values.authority, text) is REFUSED
        return
    assert parts.scheme.lower() in ("http", "https")
    host, port = values.host_port(text)
    assert host
    assert 0 < port < 65536
    assert values.authority(text).startswith(host)


@FAST
@given(
    st.sampled_from(["http", "https"]),
    st.from_regex(r"[a-z0-9-]{1,10}(\.[a-z0-9-]{1,10}){0,3}", fullmatch=True),
    st.one_of(st.none(), st.integers(1, 65535)),
)
def test_well_formed_urls_give_their_authority(scheme: str, host: str, port: int | None) -> None:
    netloc = host if port is None else f"{host}:{port}"
    default = 80 if scheme == "http" else 443
    expected = host if port in (None, default) else f"{host}:{port}"
    assert values.authority(f"{scheme}://{netloc.upper()}/users/ada?x=1") == expected


@FAST
@given(ANY_TEXT)
@example("ana@[::1")
@example("@ana@hq.example:0")
@example("ana@hq.example/x")
def test_handles_parse_or_fail_typed(text: str) -> None:
    parsed = outcome(values.handle, text)
    if parsed is not REFUSED:
        name, domain = parsed
        assert name
        assert "@" not in name
        assert not set("@/ ") & set(domain)
        assert domain == domain.lower()


TIME_TEXT = st.one_of(
    st.text(string.digits + "-:T.Z+ ", max_size=40),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.isoformat()),
)


@FAST
@given(TIME_TEXT)
@example("9999-12-31T23:59:59Z")
@example("9999-12-31T23:59:59-14:00")
@example("0001-01-01T00:00:00+14:00")
def test_times_parse_in_range_or_fail_typed(text: str) -> None:
    moment = outcome(values.iso_datetime, text)
    if moment is not REFUSED:
        assert moment.tzinfo is not None
        assert values.EARLIEST <= moment < values.LATEST
        moment + timedelta(days=1)  # date arithmetic on a parsed time never overflows
    clamped = outcome(values.iso_datetime, text, clamp=True)
    if clamped is not REFUSED:
        assert values.EARLIEST <= clamped < values.LATEST


@FAST
@given(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2999, 12, 30)))
def test_times_in_range_read_back_exactly(moment: datetime) -> None:
    aware = moment.replace(tzinfo=UTC)
    assert values.iso_datetime(aware.isoformat()) == aware
    assert values.iso_datetime(aware.isoformat().replace("+00:00", "Z")) == aware
    assert values.parse_http_date(format_datetime(aware.replace(microsecond=0), usegmt=True)) == (
        aware.replace(microsecond=0)
    )


@FAST
@given(
    st.one_of(
        st.text(max_size=40), st.text(string.ascii_letters + string.digits + ", :", max_size=40)
    )
)
@example("Sun, 31 Dec 99999 23:59:59 GMT")
@example("Mon, 01 Jan 0001 00:00:00 +2359")
def test_http_dates_parse_or_fail_typed(text: str) -> None:
    moment = outcome(values.parse_http_date, text)
    if moment is not REFUSED:
        assert values.EARLIEST <= moment < values.LATEST


NUMBER_TEXT = st.one_of(
    st.text(string.digits + "-+ _²٣\uff11e.", max_size=25),
    st.integers().map(str),
    st.integers(),
    st.booleans(),
    st.none(),
    st.floats(),
)


@FAST
@given(NUMBER_TEXT)
def test_numbers_and_ids_parse_or_fail_typed(value: Any) -> None:
    number = outcome(values.integer, value, minimum=-1000, maximum=1 << 40)
    if number is not REFUSED:
        assert -1000 <= number <= 1 << 40
    row_id = outcome(values.row_id, value)
    if row_id is not REFUSED:
        assert 0 <= row_id < 1 << 63
        assert str(row_id) == str(value).lstrip("0") or str(value).strip("0") == ""


@FAST
@given(st.integers(0, (1 << 63) - 1))
def test_every_64_bit_id_reads_back(number: int) -> None:
    assert values.row_id(str(number)) == number
    assert values.row_ids([str(number), "x", str(number), "²"]) == [number]


JSON = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(-(1 << 63), (1 << 63) - 1), st.text(max_size=5)
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=30,
)


def depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    return 0


@FAST
@given(JSON, st.integers(0, 300))
def test_json_is_refused_exactly_beyond_the_depth_limit(document: Any, extra: int) -> None:
    body = b"[" * extra + orjson.dumps(document) + b"]" * extra
    wanted = depth(document) + extra
    parsed = outcome(values.json_document, body)
    assert (parsed is not REFUSED) == (wanted <= values.MAX_JSON_DEPTH)
    if wanted <= values.MAX_JSON_DEPTH:
        assert values.json_depth(parsed) == wanted


@FAST
@given(st.binary(max_size=200))
def test_any_bytes_are_json_or_a_typed_error(body: bytes) -> None:
    outcome(values.json_document, body)


def test_nesting_beyond_what_orjson_reads_is_a_typed_error_too() -> None:
    with pytest.raises(InvalidValue):
        values.json_document(b"[" * 5000 + b"]" * 5000)
