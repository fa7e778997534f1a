"""Values that come from outside — request fields, headers, remote documents — parsed strictly.

The standard library fails in many ways on hostile text (`urlsplit("http://[::1")` raises a
bare ValueError, `datetime + timedelta` overflows near year 9999, JSON nested 255 deep cannot be
serialised again). Everything request-derived goes through here instead, and every failure is
one typed error, InvalidValue, that the edges answer with a 4xx and log as one line.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import SplitResult, urlsplit

import orjson

MAX_URL = 2048
# Deeper JSON is refused before anything else reads it. ActivityStreams documents nest a few
# levels (activity > object > tag or attachment > …); orjson cannot serialise beyond 254.
MAX_JSON_DEPTH = 64
# Times outside this range are refused: nothing this node stores lies there, and date arithmetic
# near the ends of datetime's range (year 1 and 9999) overflows.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)
DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_HANDLE = 320
_HANDLE_NAME = re.compile(r"[\w.-]{1,64}")  # Mastodon's [a-z0-9_], and what others allow
_HOST_NAME = re.compile(r"(?:[\w-]{1,63}\.)*[\w-]{1,63}")  # DNS labels, IDNs in Unicode
_IPV6_LITERAL = re.compile(r"\[[0-9a-f:.]{2,45}\]")
_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]")


class InvalidValue(ValueError):
    """A value that cannot be what it claims to be; the message says which and why."""


# --- URLs ------------------------------------------------------------------------------------


def http_url(text: object) -> SplitResult:
    """An absolute http(s) URL with a host, split into its parts."""
    return _http_url(text)[0]


def _http_url(text: object) -> tuple[SplitResult, str, int]:
    """(parts, host, explicit-or-default port) of an absolute http(s) URL."""
    if not isinstance(text, str):
        raise InvalidValue("a URL must be a string")
    if len(text) > MAX_URL:
        raise InvalidValue(f"a URL may have at most {MAX_URL} characters")
    if _SPACE_OR_CONTROL.search(text):
        raise InvalidValue("a URL may not contain spaces or control characters")
    try:
        parts = urlsplit(text)
    except ValueError:
        raise InvalidValue(f"not a valid URL: {text[:100]!r}") from None
    default = DEFAULT_PORTS.get(parts.scheme.lower())
    if default is None:
        raise InvalidValue(f"not an http(s) URL: {text[:100]!r}")
    host, port = split_authority(parts.netloc.rpartition("@")[2])
    return parts, host, default if port is None else port


def split_authority(netloc: str) -> tuple[str, int | None]:
    """'Host.Example:8443' -> ('host.example', 8443); IPv6 literals keep their brackets."""
    netloc = netloc.strip().lower().rstrip(".")
    if netloc.startswith("["):
        end = netloc.find("]")
        if end < 0:
            raise InvalidValue(f"unterminated IPv6 literal in {netloc[:100]!r}")
        host, rest = netloc[: end + 1], netloc[end + 1 :]
        if rest and not rest.startswith(":"):
            raise InvalidValue(f"unexpected text after the IPv6 literal in {netloc[:100]!r}")
        port_text = rest[1:]
    else:
        host, _, port_text = netloc.partition(":")
    host = host.rstrip(".")
    if not host:
        raise InvalidValue("the URL names no host")
    if port_text:
        if not (port_text.isascii() and port_text.isdigit()) or not 0 < int(port_text) < 65536:
            raise InvalidValue(f"invalid port in {netloc[:100]!r}")
        return host, int(port_text)
    return host, None


def host_port(url: str) -> tuple[str, int]:
    """The host and explicit-or-default port of an absolute http(s) URL."""
    _, host, port = _http_url(url)
    return host, port


def authority(url: str) -> str:
    """host[:port] of an http(s) URL, lower case, default port dropped — what origins compare."""
    parts, host, port = _http_url(url)
    return host if port == DEFAULT_PORTS[parts.scheme.lower()] else f"{host}:{port}"


def handle(text: object) -> tuple[str, str]:
    """`name@host[:port]` (or `@name@host`) -> (name, host[:port] lower case)."""
    if not isinstance(text, str) or len(text) > MAX_HANDLE:
        raise InvalidValue("a handle looks like name@host")
    name, at, domain = text.strip().removeprefix("@").partition("@")
    if not at or not _HANDLE_NAME.fullmatch(name):
        raise InvalidValue("a handle looks like name@host")
    host, port = split_authority(domain)
    if not (_HOST_NAME.fullmatch(host) or _IPV6_LITERAL.fullmatch(host)):
        raise InvalidValue(f"not a host name: {host[:100]!r}")
    return name, host if port is None else f"{host}:{port}"


# --- times -----------------------------------------------------------------------------------


def _in_range(moment: datetime, what: str) -> datetime:
    if not EARLIEST <= moment < LATEST:
        raise InvalidValue(f"{what} must lie between {EARLIEST.year} and {LATEST.year}")
    return moment


def iso_datetime(
    text: object, what: str = "the time", *, zone_required: bool = False, clamp: bool = False
) -> datetime:
    """An ISO 8601 time in UTC, within EARLIEST..LATEST (moved there with `clamp`, refused
    otherwise); one without a zone is read as UTC unless `zone_required`."""
    if not isinstance(text, str) or len(text) > 64:
        raise InvalidValue(f"{what} must be an ISO 8601 time")
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidValue(f"{what} must be an ISO 8601 time") from None
    if moment.tzinfo is None:
        if zone_required:
            raise InvalidValue(f"{what} needs a time zone")
        moment = moment.replace(tzinfo=UTC)
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 shifted past datetime's range by its zone
        moment = datetime.min.replace(tzinfo=UTC) if moment.year == 1 else datetime.max
        moment = moment.replace(tzinfo=UTC)
    if clamp:
        return min(max(moment, EARLIEST), LATEST - timedelta(microseconds=1))
    return _in_range(moment, what)


def parse_http_date(text: object) -> datetime:
    """An HTTP date (`Tue, 15 Nov 1994 08:12:31 GMT`), within EARLIEST..LATEST."""
    if not isinstance(text, str) or len(text) > 64:
        raise InvalidValue("not an HTTP date")
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        raise InvalidValue("not an HTTP date") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return _in_range(moment, "an HTTP date")


# --- numbers ---------------------------------------------------------------------------------


def integer(
    text: object,
    what: str = "the number",
    *,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int:
    """A decimal integer (ASCII digits, optional minus sign) within minimum..maximum."""
    if isinstance(text, bool) or not isinstance(text, int | str):
        raise InvalidValue(f"{what} must be a number")
    if isinstance(text, str):
        digits = text.strip()
        unsigned = digits.removeprefix("-")
        if not (unsigned.isascii() and unsigned.isdigit()) or len(unsigned) > 64:
            raise InvalidValue(f"{what} must be a number")
        text = int(digits)
    if minimum is not None and text < minimum:
        raise InvalidValue(f"{what} must be at least {minimum}")
    if maximum is not None and text > maximum:
        raise InvalidValue(f"{what} must be at most {maximum}")
    return text


def row_id(text: object, what: str = "the id") -> int:
    """A 64-bit id as clients send it: ASCII digits only, below 2**63."""
    if isinstance(text, bool) or not isinstance(text, int | str):
        raise InvalidValue(f"{what} must be digits")
    digits = str(text)
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 19:
        raise InvalidValue(f"{what} must be digits")
    number = int(digits)
    if number >= 1 << 63:
        raise InvalidValue(f"{what} is too large")
    return number


def row_ids(texts: list[str]) -> list[int]:
    """The valid ids among `texts`, in order and once each; the others name nothing."""
    found: dict[int, None] = {}
    for text in texts:
        try:
            found.setdefault(row_id(text), None)
        except InvalidValue:
            continue
    return list(found)


# --- JSON ------------------------------------------------------------------------------------


def json_document(body: bytes | str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parsed JSON, refused when it is not JSON or nests deeper than `max_depth`."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        # orjson also refuses nesting beyond 1024 this way, before recursing further.
        raise InvalidValue("the body is not JSON") from None
    if json_depth(document, max_depth) > max_depth:
        raise InvalidValue(f"the JSON nests deeper than {max_depth} levels")
    return document


def json_depth(document: Any, limit: int = MAX_JSON_DEPTH) -> int:
    """How deep `document` nests (a scalar is 0, `[]` is 1), counted up to `limit + 1`."""
    deepest = 0
    pending: list[tuple[Any, int]] = [(document, 0)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        depth += 1
        if depth > deepest:
            deepest = depth
            if deepest > limit:
                return deepest
        pending.extend((child, depth) for child in children if isinstance(child, dict | list))
    return deepest
