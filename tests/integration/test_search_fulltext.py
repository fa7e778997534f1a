"""Full-text search over posts: stemmed words, operators, paging, visibility, mutes and
queries written to break the index syntax — on SQLite (FTS5) and PostgreSQL (tsvector)."""

from __future__ import annotations

import io
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from mastodon import Mastodon
from PIL import Image

from tests.kit import RunningNode, User


def tag() -> str:
    """A made-up word that only this test's posts contain."""
    return "zq" + secrets.token_hex(4)


def post(node: RunningNode, user: User, text: str, **fields: Any) -> dict[str, Any]:
    answer = node.api(user, "POST", "/api/v1/statuses", data={"status": text, **fields})
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def search(node: RunningNode, user: User | None, q: str, **params: str) -> httpx.Response:
    return node.api(user, "GET", "/api/v2/search", params={"q": q, "type": "statuses", **params})


def found(node: RunningNode, user: User, q: str, **params: str) -> list[str]:
    answer = search(node, user, q, **params)
    assert answer.status_code == 200, answer.text
    return [s["id"] for s in answer.json()["statuses"]]


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (20, 120, 200)).save(out, "PNG")
    return out.getvalue()


def test_stemmed_words_find_their_forms(node: RunningNode, alice: User, bob: User) -> None:
    word = tag()
    english = post(node, bob, f"The quarterly report is out {word}", language="en")
    german = post(node, bob, f"Der Bericht zum Quartal {word}", language="de")
    api = Mastodon(access_token=alice.token, api_base_url=node.url)
    by_client = api.search_v2(f"reports {word}", resolve=False, result_type="statuses")
    assert [str(s.id) for s in by_client.statuses] == [english["id"]]
    assert found(node, alice, f"Berichte {word}") == [german["id"]]
    assert found(node, alice, word) == [german["id"], english["id"]]  # newest first


def test_umlauts_and_case_do_not_matter(node: RunningNode, alice: User, bob: User) -> None:
    word = tag()
    posted = post(node, bob, f"Grüße aus der Küche {word.upper()}", language="de")
    assert found(node, alice, f"KÜCHE {word}") == [posted["id"]]


def test_edits_reindex_and_deletes_remove(node: RunningNode, alice: User, bob: User) -> None:
    word = tag()
    first = post(node, bob, f"Kantine öffnet um elf {word}")
    edited = node.api(
        bob, "PUT", f"/api/v1/statuses/{first['id']}", data={"status": f"Betriebsrat {word}"}
    )
    assert edited.status_code == 200, edited.text
    assert found(node, alice, f"Kantine {word}") == []
    assert found(node, alice, f"Betriebsrat {word}") == [first["id"]]
    assert node.api(bob, "DELETE", f"/api/v1/statuses/{first['id']}").status_code == 200
    assert found(node, alice, word) == []


def test_phrases_and_excluded_words(node: RunningNode, alice: User, bob: User) -> None:
    word = tag()
    plain = post(node, bob, f"new coffee machine {word}")
    other = post(node, bob, f"machine for new coffee {word}")
    assert found(node, alice, f'"coffee machine" {word}') == [plain["id"]]
    assert found(node, alice, f"coffee {word} -machine") == []
    assert set(found(node, alice, f"coffee {word}")) == {plain["id"], other["id"]}


def test_from_operator(node: RunningNode, alice: User, bob: User) -> None:
    word = tag()
    mine = post(node, alice, f"Mine {word}")
    theirs = post(node, bob, f"Theirs {word}")
    host = node.url.split("://")[1]
    assert found(node, alice, f"{word} from:{bob.name}") == [theirs["id"]]
    assert found(node, alice, f"{word} from:{bob.name}@{host}") == [theirs["id"]]
    assert found(node, alice, f"{word} from:@{bob.name}") == [theirs["id"]]
    assert found(node, alice, f"{word} from:me") == [mine["id"]]
    assert found(node, alice, f"{word} from:{bob.name}@elsewhere.example") == []
    assert found(node, alice, f"{word} from:nobody{word}") == []
    # An operator alone searches every post it admits.
    assert theirs["id"] in found(node, alice, f"from:{bob.name}", limit="40")


def test_has_media_and_is_reply(node: RunningNode, alice: User, bob: User) -> None:
    word = tag()
    upload = node.api(bob, "POST", "/api/v2/media", files={"file": ("p.png", png(), "image/png")})
    assert upload.status_code in (200, 202), upload.text
    pictured = post(node, bob, f"Foto {word}", **{"media_ids[]": upload.json()["id"]})
    plain = post(node, bob, f"Text {word}")
    reply = post(node, alice, f"Antwort {word}", in_reply_to_id=plain["id"])
    assert found(node, alice, f"{word} has:media") == [pictured["id"]]
    assert found(node, alice, f"{word} -has:media") == [reply["id"], plain["id"]]
    assert found(node, alice, f"{word} is:reply") == [reply["id"]]
    assert found(node, alice, f"{word} -is:reply") == [plain["id"], pictured["id"]]


def test_before_and_after_are_exclusive_utc_days(node: RunningNode, alice: User, bob: User) -> None:
    word = tag()
    posted = post(node, bob, f"Heute {word}")
    today = datetime.now(UTC).date()
    # A post near midnight UTC may carry tomorrow's date by the time the query runs.
    day = datetime.fromisoformat(posted["created_at"].replace("Z", "+00:00")).date()
    assert day in (today, today - timedelta(days=1))
    before, after = day + timedelta(days=1), day - timedelta(days=1)
    assert found(node, alice, f"{word} before:{before}") == [posted["id"]]
    assert found(node, alice, f"{word} after:{after}") == [posted["id"]]
    assert found(node, alice, f"{word} before:{day}") == []
    assert found(node, alice, f"{word} after:{day}") == []


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("x before:yesterday", "before:"),
        ("x after:2026-13-01", "after:"),
        ("x has:cats", "has:"),
        ("x is:boring", "is:"),
        ("x from:", "from:"),
        ("x -from:someone", "from:"),
    ],
)
def test_bad_operator_values_are_refused_with_a_reason(
    node: RunningNode, alice: User, query: str, reason: str
) -> None:
    answer = search(node, alice, query)
    assert answer.status_code == 422
    assert reason in answer.json()["error"]


def test_words_with_a_colon_that_are_no_operator_are_text(
    node: RunningNode, alice: User, bob: User
) -> None:
    word = tag()
    posted = post(node, bob, f"Treffen um 10:30 {word}")
    assert found(node, alice, f"10:30 {word}") == [posted["id"]]


def test_pages_by_id_and_by_offset(node: RunningNode, alice: User, bob: User) -> None:
    word = tag()
    ids = [post(node, bob, f"Teil {n} {word}")["id"] for n in range(5)]
    newest_first = list(reversed(ids))
    first = found(node, alice, word, limit="2")
    assert first == newest_first[:2]
    second = found(node, alice, word, limit="2", max_id=first[-1])
    assert second == newest_first[2:4]
    assert found(node, alice, word, limit="2", offset="4") == newest_first[4:]
    assert found(node, alice, word, limit="2", min_id=ids[0]) == [ids[2], ids[1]]


def test_visibility_mutes_and_blocks(node: RunningNode, alice: User, bob: User) -> None:
    word = tag()
    carol = node.create_user("carol")
    public = post(node, bob, f"Offen {word}")
    private = post(node, bob, f"Nur Folgende {word}", visibility="private")
    direct = post(node, bob, f"@{carol.name} Nur du {word}", visibility="direct")
    assert found(node, alice, word) == [public["id"]]
    assert found(node, carol, word) == [direct["id"], public["id"]]
    bob_id = node.api(bob, "GET", "/api/v1/accounts/verify_credentials").json()["id"]
    assert node.api(alice, "POST", f"/api/v1/accounts/{bob_id}/follow").status_code == 200
    assert found(node, alice, word) == [private["id"], public["id"]]
    assert found(node, alice, word, account_id=bob_id) == [private["id"], public["id"]]
    assert node.api(alice, "POST", f"/api/v1/accounts/{bob_id}/mute").status_code == 200
    assert found(node, alice, word) == []
    assert node.api(carol, "POST", f"/api/v1/accounts/{bob_id}/block").status_code == 200
    assert found(node, carol, word) == []
    assert search(node, None, word).json()["statuses"] == []  # no post search when signed out


HOSTILE = [
    '"',
    '"unbalanced quote',
    'a" b "c',
    "*",
    "foo*",
    "NEAR(a b)",
    "a NEAR b",
    "-",
    "--a",
    "- -",
    "a OR",
    "AND OR NOT",
    "(",
    "a) OR (b",
    "^a",
    "a:b:c",
    "col:value",
    "body:x",
    "'",
    "\\",
    "!!&&||",
    "a & !b | c <-> d",
    ":*",
    "%_%",
    "\u0000",
    "émoji 🎉",
    "x" * 400,
]


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_queries_never_fail(node: RunningNode, alice: User, query: str) -> None:
    for kind in ("statuses", ""):
        answer = node.api(alice, "GET", "/api/v2/search", params={"q": query, "type": kind})
        assert answer.status_code < 500, answer.text
        if answer.status_code == 200:
            assert set(answer.json()) == {"accounts", "statuses", "hashtags"}


def test_a_query_of_ten_thousand_characters_is_refused(node: RunningNode, alice: User) -> None:
    answer = search(node, alice, "Bericht " * 1250)
    assert 400 <= answer.status_code < 500
    assert "error" in answer.json()


def test_people_are_found_by_words_of_their_profile(node: RunningNode, alice: User) -> None:
    dora = node.create_user("dora")
    word = tag()
    updated = node.api(
        dora,
        "PATCH",
        "/api/v1/accounts/update_credentials",
        data={
            "note": f"Ich leite die Buchhaltung {word}",
            "fields_attributes[0][name]": "Standort",
            "fields_attributes[0][value]": "Nürnberg",
        },
    )
    assert updated.status_code == 200, updated.text
    for query in (
        f"Buchhaltung {word}",
        f"{word} Nurnberg" if "sqlite" in node.database_url else f"{word} Nürnberg",
    ):
        accounts = search(node, alice, query, type="accounts").json()["accounts"]
        assert [a["username"] for a in accounts] == [dora.name], query
    node.api(
        dora, "PATCH", "/api/v1/accounts/update_credentials", data={"note": "Neu im Einkauf"}
    ).raise_for_status()
    assert search(node, alice, f"Buchhaltung {word}", type="accounts").json()["accounts"] == []
