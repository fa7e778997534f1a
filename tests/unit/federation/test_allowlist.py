"""Allowlist patterns: exact hosts, subdomain wildcards, optional ports."""

from __future__ import annotations

import pytest

from federation.allowlist import Allowlist, PatternError, parse_pattern


def test_exact_host_matches_every_port_and_nothing_else() -> None:
    allow = Allowlist(["hr.corp.example"])
    assert allow.allows_url("https://hr.corp.example/users/ada")
    assert allow.allows_url("http://HR.corp.example:8443/inbox")
    assert not allow.allows_url("https://evil-hr.corp.example/")
    assert not allow.allows_url("https://hr.corp.example.evil.test/")
    assert not allow.allows_url("https://corp.example/")


def test_wildcard_matches_subdomains_only() -> None:
    allow = Allowlist(["*.corp.example"])
    assert allow.allows("sales.corp.example")
    assert allow.allows("a.b.corp.example")
    assert not allow.allows("corp.example")
    assert not allow.allows("notcorp.example")


def test_pattern_with_port_matches_only_that_port() -> None:
    allow = Allowlist(["localhost:2909"])
    assert allow.allows_url("http://localhost:2909/users/cow")
    assert not allow.allows_url("http://localhost:2910/users/cow")
    assert not allow.allows_url("http://localhost/users/cow")
    assert Allowlist(["hq.corp.example:443"]).allows_url("https://hq.corp.example/x")


def test_empty_allowlist_allows_nothing() -> None:
    assert not Allowlist().allows_url("https://hq.corp.example/")


@pytest.mark.parametrize(
    "pattern",
    [
        "",
        "https://hq.corp.example",
        "hq.corp.example/path",
        "*",
        "*.",
        "a..b",
        "host:99999",
        "ho*st.example",
    ],
)
def test_nonsense_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(PatternError):
        parse_pattern(pattern)


def test_userinfo_does_not_fool_the_host_check() -> None:
    allow = Allowlist(["hq.corp.example"])
    assert not allow.allows_url("https://hq.corp.example@evil.test/")
    assert allow.allows_url("https://evil.test@hq.corp.example/")
