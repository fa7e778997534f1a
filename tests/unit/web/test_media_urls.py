"""Signed addresses of confidential attachments: what opens, what does not."""

from __future__ import annotations

from urllib.parse import parse_qsl

from models.settings import Settings
from outbox.media_access import expiry, signed_query, signed_viewer

SETTINGS = Settings(secret_key="k" * 40, media_url_ttl=3600)
PATH = "/media/attachments/1/abc/original.png"
NOW = 1_800_000_000.0


def fields(query: str) -> dict[str, str]:
    return dict(parse_qsl(query))


def test_a_handed_out_address_names_its_viewer_until_it_expires() -> None:
    query = fields(signed_query(SETTINGS, PATH, 42, now=NOW))
    assert signed_viewer(SETTINGS, PATH, query, now=NOW) == 42
    assert signed_viewer(SETTINGS, PATH, query, now=NOW + 2000) == 42
    assert signed_viewer(SETTINGS, PATH, query, now=NOW + 3601) is None


def test_the_address_stays_the_same_for_a_while_and_never_outlives_the_ttl() -> None:
    first = signed_query(SETTINGS, PATH, 42, now=NOW)
    assert signed_query(SETTINGS, PATH, 42, now=NOW + 1) == first
    for moment in (NOW, NOW + 123, NOW + 899, NOW + 5000):
        assert moment + 3600 * 3 / 4 <= expiry(SETTINGS, moment) <= moment + 3600


def test_changed_addresses_open_nothing() -> None:
    query = fields(signed_query(SETTINGS, PATH, 42, now=NOW))
    assert signed_viewer(SETTINGS, PATH.replace("1", "2", 1), query, now=NOW) is None
    assert signed_viewer(SETTINGS, PATH, {**query, "viewer": "43"}, now=NOW) is None
    later = str(int(query["expires"]) + 60)
    assert signed_viewer(SETTINGS, PATH, {**query, "expires": later}, now=NOW) is None
    assert signed_viewer(SETTINGS, PATH, {**query, "sig": query["sig"][::-1]}, now=NOW) is None
    other_node = Settings(secret_key="o" * 40)
    assert signed_viewer(other_node, PATH, query, now=NOW) is None


def test_malformed_addresses_open_nothing() -> None:
    query = fields(signed_query(SETTINGS, PATH, 42, now=NOW))
    for broken in (
        {},
        {**query, "viewer": ""},
        {**query, "viewer": "-42"},
        {**query, "viewer": "4" * 40},
        {**query, "expires": "soon"},
        {**query, "sig": "ä" * 32},
    ):
        assert signed_viewer(SETTINGS, PATH, broken, now=NOW) is None
