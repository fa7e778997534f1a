"""Finding colleagues, hashtags and posts through /api/v2/search (and the v1 shape)."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

import httpx
import pytest
from mastodon import Mastodon

from tests.kit import RunningNode, User


def named_user(node: RunningNode, name: str, display_name: str = "") -> User:
    """A user with exactly this name (the kit's users get a random suffix)."""
    password = "pw-" + secrets.token_urlsafe(12)
    node.cli("user", "create", name, "--password", password, "--email", f"{name}@example.com")
    token = node.cli("user", "token", name).stdout.strip().splitlines()[-1]
    user = User(name=name, password=password, email=f"{name}@example.com", token=token)
    if display_name:
        node.api(
            user,
            "PATCH",
            "/api/v1/accounts/update_credentials",
            data={"display_name": display_name},
        ).raise_for_status()
    return user


def search(node: RunningNode, user: User | None, **params: str) -> httpx.Response:
    return node.api(user, "GET", "/api/v2/search", params=params)


def test_finds_a_colleague_by_name_prefix_exact_match_first(node: RunningNode, alice: User) -> None:
    stem = "kim" + secrets.token_hex(3)
    named_user(node, stem + "berger")
    named_user(node, stem)
    api = Mastodon(access_token=alice.token, api_base_url=node.url)
    found = api.search(stem, resolve=False, result_type="accounts")
    names = [a.acct for a in found.accounts]
    assert names[0] == stem
    assert stem + "berger" in names
    assert api.search(stem[:5] + "zzz", resolve=False).accounts == []


def test_finds_a_colleague_by_handle_and_display_name(node: RunningNode, alice: User) -> None:
    name = "jo" + secrets.token_hex(3)
    surname = "Quellmalz" + secrets.token_hex(2)
    named_user(node, name, display_name=f"Johanna {surname}")
    domain = urlsplit(node.url).netloc
    for query in (f"@{name}", f"{name}@{domain}", f"@{name}@{domain}", surname.lower()):
        accounts = search(node, alice, q=query, type="accounts").json()["accounts"]
        assert [a["acct"] for a in accounts] == [name], query
    assert accounts[0]["display_name"] == f"Johanna {surname}"
    by_url = search(node, alice, q=accounts[0]["url"]).json()["accounts"]
    assert [a["acct"] for a in by_url] == [name]


def test_wildcards_in_the_query_are_literal(node: RunningNode, alice: User) -> None:
    response = search(node, alice, q="%_%", type="accounts")
    assert response.status_code == 200
    assert response.json()["accounts"] == []


def test_finds_hashtags_by_prefix(node: RunningNode, alice: User) -> None:
    tag = "Quartal" + secrets.token_hex(3)
    api = Mastodon(access_token=alice.token, api_base_url=node.url)
    api.status_post(f"Die Zahlen sind da #{tag}")
    found = api.search("#" + tag[:10], resolve=False, result_type="hashtags").hashtags
    assert tag.lower() in [t.name for t in found]
    entry = next(t for t in found if t.name == tag.lower())
    assert entry.url == f"{node.url}/tags/{tag.lower()}"
    assert entry.history == []
    v1 = node.api(alice, "GET", "/api/v1/search", params={"q": tag}).json()
    assert v1["hashtags"] == [tag.lower()]


def test_finds_visible_posts_by_their_words(node: RunningNode, alice: User, bob: User) -> None:
    word = "Betriebsausflug" + secrets.token_hex(3)
    posted = node.api(
        bob, "POST", "/api/v1/statuses", data={"status": f"Der {word} ist am Freitag"}
    )
    secret = node.api(
        bob,
        "POST",
        "/api/v1/statuses",
        data={"status": f"Nur intern: {word} abgesagt", "visibility": "private"},
    )
    assert posted.status_code == secret.status_code == 200
    found = search(node, alice, q=word, type="statuses").json()["statuses"]
    assert [s["id"] for s in found] == [posted.json()["id"]]  # not bob's followers-only post
    own = search(node, bob, q=word.lower()).json()["statuses"]
    assert {s["id"] for s in own} == {posted.json()["id"], secret.json()["id"]}
    by_url = search(node, alice, q=posted.json()["url"]).json()["statuses"]
    assert [s["id"] for s in by_url] == [posted.json()["id"]]


def test_unknown_remote_handle_resolves_to_nothing(node: RunningNode, alice: User) -> None:
    response = search(node, alice, q="nobody@elsewhere.example", resolve="true")
    assert response.status_code == 200
    assert response.json() == {"accounts": [], "statuses": [], "hashtags": []}


def test_anonymous_search_finds_accounts_but_may_not_resolve(node: RunningNode) -> None:
    name = "anon" + secrets.token_hex(3)
    named_user(node, name)
    found = search(node, None, q=name).json()
    assert [a["acct"] for a in found["accounts"]] == [name]
    assert found["statuses"] == []
    refused = search(node, None, q=name, resolve="true")
    assert refused.status_code == 401
    assert "error" in refused.json()


@pytest.mark.parametrize(
    ("params", "status"),
    [({}, 400), ({"q": ""}, 400), ({"q": "x", "type": "people"}, 422)],
)
def test_bad_searches_are_4xx_json(
    node: RunningNode, alice: User, params: dict[str, str], status: int
) -> None:
    response = search(node, alice, **params)
    assert response.status_code == status
    assert set(response.json()) == {"error"}


def test_search_needs_the_read_search_scope(node: RunningNode) -> None:
    writer = node.create_user("writer", scopes="write")
    response = search(node, writer, q="admin")
    assert response.status_code == 403
    granular = node.create_user("seeker", scopes="read:search")
    assert search(node, granular, q="admin").status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        "http://[::1",
        "https://[::1]x/users/a",
        "http://colleague.example:99999/users/a",
        "http://colleague.example:port/users/a",
        "ana@[::1",
        "ana@colleague.example:0",
        "@ana@host/with/path",
    ],
)
def test_malformed_addresses_resolve_to_nothing(node: RunningNode, alice: User, query: str) -> None:
    before = "".join(node.output).count("Traceback")
    for path in ("/api/v2/search", "/api/v1/search"):
        response = node.api(alice, "GET", path, params={"q": query, "resolve": "true"})
        assert response.status_code == 200, response.text
        assert response.json()["accounts"] == []
        assert response.json()["statuses"] == []
    assert "".join(node.output).count("Traceback") == before
