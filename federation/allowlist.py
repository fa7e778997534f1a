"""Which hosts this node may federate with: exact hosts and `*.suffix` patterns, optional port.

`hr.corp.example` matches that host on every port; `localhost:2909` only that port;
`*.corp.example` matches every subdomain of corp.example (not corp.example itself).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from federation.values import InvalidValue, host_port, split_authority


class PatternError(ValueError):
    """A pattern that can never match anything sensible."""


@dataclass(frozen=True)
class Pattern:
    host: str  # without the "*." of a wildcard
    wildcard: bool
    port: int | None

    def matches(self, host: str, port: int | None) -> bool:
        if self.port is not None and port != self.port:
            return False
        if self.wildcard:
            # `*.0.1` names no subdomains: an IP literal matches only when listed as it is.
            return host.endswith("." + self.host) and not is_ip_literal(host)
        return host == self.host

    def __str__(self) -> str:
        text = ("*." if self.wildcard else "") + self.host
        return text if self.port is None else f"{text}:{self.port}"


def split_host_port(netloc: str) -> tuple[str, int | None]:
    """'Host.Example:8443' -> ('host.example', 8443); IPv6 literals keep their brackets."""
    try:
        return split_authority(netloc)
    except InvalidValue as exc:
        raise PatternError(str(exc)) from None


def parse_pattern(text: str) -> Pattern:
    text = text.strip().lower()
    if "://" in text or "/" in text or not text:
        raise PatternError(f"expected a host pattern like *.corp.example, got {text!r}")
    host, port = split_host_port(text)
    wildcard = host.startswith("*.")
    if wildcard:
        host = host[2:]
    if not host or "*" in host or " " in host or host.startswith(".") or ".." in host:
        raise PatternError(f"invalid host pattern {text!r}")
    return Pattern(host, wildcard, port)


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def is_loopback(host: str) -> bool:
    """`localhost`, `*.localhost` and loopback addresses: where every port is another service."""
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def url_host_port(url: str) -> tuple[str, int | None]:
    """The host and explicit-or-default port of an absolute http(s) URL."""
    try:
        return host_port(url)
    except InvalidValue as exc:
        raise PatternError(str(exc)) from None


class Allowlist:
    """An immutable set of patterns; build a new one when the patterns change."""

    def __init__(self, patterns: Iterable[str | Pattern] = ()) -> None:
        self.patterns = tuple(p if isinstance(p, Pattern) else parse_pattern(p) for p in patterns)

    def allows(self, host: str, port: int | None = None) -> bool:
        host = host.lower().rstrip(".")
        return any(p.matches(host, port) for p in self.patterns)

    def allows_url(self, url: str) -> bool:
        try:
            host, port = url_host_port(url)
        except PatternError:
            return False
        return bool(host) and self.allows(host, port)

    def __len__(self) -> int:
        return len(self.patterns)


class PreviewHosts(Allowlist):
    """Where link previews may be fetched: the federation allowlist (as it is at each call)
    and FLURFUNK_PREVIEW_HOSTS, with two stricter rules — an IP literal only when a pattern
    lists it exactly, and a loopback host only on a port a pattern names."""

    def __init__(self, federation: Callable[[], Allowlist], patterns: Iterable[str] = ()) -> None:
        super().__init__(patterns)
        self._federation = federation

    def allows(self, host: str, port: int | None = None) -> bool:
        host = host.lower().rstrip(".")
        patterns = (*self._federation().patterns, *self.patterns)
        if is_loopback(host):
            return any(p.port is not None and p.matches(host, port) for p in patterns)
        return any(p.matches(host, port) for p in patterns)

    def __call__(self) -> PreviewHosts:
        return self
