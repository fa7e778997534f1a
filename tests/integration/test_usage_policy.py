"""The usage policy: until a person accepts the current version, apps get the documented 403
for anything that publishes or interacts, reading stays open; accepting lets them post; a new
version asks again; admins see and export who has not accepted; the policy's list items are
the node's rules; hostile Markdown is cleaned."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from mastodon import Mastodon, MastodonAPIError

from tests.conftest import BACKENDS
from tests.integration.test_web_pages import csrf, signed_in
from tests.integration.test_your_data import signed_in as data_signed_in
from tests.integration.test_your_data import upload
from tests.kit import RunningNode, User, running_node

POLICY = """# Nutzungsrichtlinie

<script>alert("x")</script>

- Be kind to colleagues.
- No customer data in posts; see [the rules](javascript:alert(1)).
  - a detail, not a rule of its own
- Report problems to IT.
"""


@pytest.fixture(scope="module", params=BACKENDS)
def policy_node(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningNode]:
    """A node of its own: a policy gates everyone on the node."""
    backend: str = request.param
    with running_node(tmp_path_factory.mktemp("policy"), backend) as node:
        yield node


def admin_of(node: RunningNode) -> User:
    user = node.create_user("boss")
    node.cli("user", "role", user.name, "admin")
    return user


def app(node: RunningNode, user: User) -> Mastodon:
    return Mastodon(access_token=user.token, api_base_url=node.url)


def publish(node: RunningNode, tmp: Path, text: str) -> int:
    file = tmp / "policy.md"
    file.write_text(text, encoding="utf-8")
    return int(node.cli("policy", "set", str(file)).stdout.splitlines()[-1])


def test_posting_waits_for_acceptance_and_a_new_version_asks_again(
    policy_node: RunningNode, tmp_path: Path
) -> None:
    node = policy_node
    anna = node.create_user("anna")
    ben = node.create_user("ben")
    before = app(node, anna).status_post("before any policy: no gate")
    assert before["content"]
    assert node.api(anna, "GET", "/api/v1/flurfunk/policy").status_code == 404

    version = publish(node, tmp_path, POLICY)
    api = app(node, anna)
    with pytest.raises(MastodonAPIError) as refused:
        api.status_post("hello")
    assert refused.value.args[1] == 403
    assert node.url + "/policy" in str(refused.value)  # what an app shows says where to go
    answer = node.api(anna, "POST", "/api/v1/statuses", data={"status": "hello"})
    assert answer.status_code == 403
    assert answer.json()["policy_url"] == node.url + "/policy"
    assert "policy" in answer.json()["error"]
    # Interacting is gated as well; reading, undoing and one's own settings are not.
    assert node.api(anna, "POST", f"/api/v1/statuses/{before['id']}/favourite").status_code == 403
    assert node.api(anna, "POST", f"/api/v1/statuses/{before['id']}/reblog").status_code == 403
    assert node.api(anna, "POST", f"/api/v1/accounts/{ben.id}/follow").status_code == 403
    assert api.timeline_home() is not None
    assert api.account_update_credentials(note="still mine to change")["note"]
    shown = api._Mastodon__api_request("GET", "/api/v1/flurfunk/policy")  # type: ignore[attr-defined]
    assert shown["version"] == version
    assert shown["accepted"] is False
    assert shown["accepted_at"] is None

    old = node.api(anna, "POST", "/api/v1/flurfunk/policy/accept", data={"version": version + 1})
    assert old.status_code == 422
    accepted = node.api(anna, "POST", "/api/v1/flurfunk/policy/accept", data={"version": version})
    assert accepted.status_code == 200
    assert accepted.json()["accepted"] is True
    assert api.status_post("hello after accepting")["content"]
    assert node.api(ben, "POST", "/api/v1/statuses", data={"status": "x"}).status_code == 403

    newer = publish(node, tmp_path, POLICY + "- One more rule.\n")
    assert newer == version + 1
    with pytest.raises(MastodonAPIError):
        api.status_post("the new version asks again")
    stale = node.api(anna, "POST", "/api/v1/flurfunk/policy/accept", data={"version": version})
    assert stale.status_code == 422
    node.api(anna, "POST", "/api/v1/flurfunk/policy/accept", data={"version": newer})
    assert api.status_post("accepted again")["content"]


def test_publishing_needs_manage_policy_and_admins_accept_too(policy_node: RunningNode) -> None:
    node = policy_node
    member = node.create_user("member")
    refused = node.api(member, "PUT", "/api/v1/flurfunk/policy", data={"text": "- mine"})
    assert refused.status_code == 403
    assert "manage_policy" in refused.json()["error"]
    boss = admin_of(node)
    empty = node.api(boss, "PUT", "/api/v1/flurfunk/policy", data={"text": "   "})
    assert empty.status_code == 422
    published = node.api(boss, "PUT", "/api/v1/flurfunk/policy", data={"text": POLICY})
    assert published.status_code == 200
    version = published.json()["version"]
    assert node.api(boss, "POST", "/api/v1/statuses", data={"status": "x"}).status_code == 403
    node.api(boss, "POST", "/api/v1/flurfunk/policy/accept", data={"version": version})
    assert node.api(boss, "POST", "/api/v1/statuses", data={"status": "x"}).status_code == 200
    for text in (["a list"], {"an": "object"}, 7 * "x" * 20_000):
        hostile = node.api(boss, "PUT", "/api/v1/flurfunk/policy", json={"text": text})
        assert hostile.status_code == 422, hostile.text
    assert node.api(boss, "GET", "/api/v1/flurfunk/policy").json()["version"] == version
    for bad in ("", "abc", "-1", "99999999999999999999"):
        answer = node.api(boss, "POST", "/api/v1/flurfunk/policy/accept", data={"version": bad})
        assert answer.status_code == 422


def test_rules_csv_and_clean_html(policy_node: RunningNode, tmp_path: Path) -> None:
    node = policy_node
    publish(node, tmp_path, POLICY)
    rules = httpx.get(node.url + "/api/v1/instance/rules", timeout=30).json()
    assert [r["text"] for r in rules] == [
        "Be kind to colleagues.",
        # markdown-it refuses the javascript: link: it stays text, and text is all a rule is
        "No customer data in posts; see [the rules](javascript:alert(1)).",
        "Report problems to IT.",
    ]
    assert httpx.get(node.url + "/api/v2/instance", timeout=30).json()["rules"] == rules

    public = httpx.get(node.url + "/policy", timeout=30)
    assert public.status_code == 200
    assert "Be kind to colleagues." in public.text
    assert "<script>alert" not in public.text
    assert 'href="javascript:' not in public.text
    assert "Akzeptieren" not in public.text  # not signed in: nothing to accept
    assert ">Accept<" not in public.text

    done = node.create_user("done")
    version = node.api(done, "GET", "/api/v1/flurfunk/policy").json()["version"]
    node.api(done, "POST", "/api/v1/flurfunk/policy/accept", data={"version": version})
    waiting = node.create_user("waiting")
    table = node.cli("policy", "acceptances", "--csv").stdout
    rows = {r["username"]: r for r in csv.DictReader(io.StringIO(table))}
    assert rows[waiting.name]["accepted"] == "no"
    assert rows[done.name]["accepted"] == "yes"
    assert rows[done.name]["accepted_at"]

    boss = admin_of(node)
    with signed_in(node, boss) as browser:
        download = browser.get("/admin/policy.csv")
        assert download.status_code == 200
        assert download.headers["content-type"].startswith("text/csv")
        listed = {r["username"]: r for r in csv.DictReader(io.StringIO(download.text))}
        assert listed[waiting.name]["accepted"] == "no"
        admin_page = browser.get("/admin/policy")
        assert waiting.name in admin_page.text
        assert "apps show its list items as the rules" in browser.get("/admin/node").text
    with signed_in(node, waiting) as browser:
        assert browser.get("/admin/policy").status_code == 403
        assert browser.get("/admin/policy.csv").status_code == 403
        page = browser.get("/policy")
        token = csrf(page)
        posted = browser.post("/statuses", data={"csrf_token": token, "status": "from the web"})
        assert posted.status_code == 303
        assert posted.headers["location"] == "/policy"
        # Any writing form of the web app, not only the composer: following from a profile.
        profile = f"/@{done.name}"
        followed = browser.post(
            profile + "/follow", data={"csrf_token": token}, headers={"referer": node.url + profile}
        )
        assert followed.status_code == 303
        assert followed.headers["location"] == f"/policy?next=%2F%40{done.name}"
        shown = browser.get(followed.headers["location"])
        assert "accept the usage policy" in shown.text
        assert f'name="next" value="{profile}"' in shown.text  # back there once accepted
        accepted = browser.post(
            "/policy/accept", data={"csrf_token": token, "version": str(version)}
        )
        assert accepted.status_code == 303
        posted = browser.post("/statuses", data={"csrf_token": token, "status": "from the web"})
        assert posted.headers["location"] != "/policy"
    statuses = node.api(waiting, "GET", f"/api/v1/accounts/{waiting.id}/statuses").json()
    assert [s["content"] for s in statuses] == ["<p>from the web</p>"]
    following = node.api(waiting, "GET", f"/api/v1/accounts/{waiting.id}/following").json()
    assert following == []  # the refused follow left nothing behind


def test_importing_follows_waits_for_acceptance(policy_node: RunningNode, tmp_path: Path) -> None:
    """A CSV file of follows is interacting too: before accepting, the upload goes to the
    policy page and no import is stored (the rows would be applied in the background)."""
    node = policy_node
    dora, emil = node.create_user("dora"), node.create_user("emil")
    publish(node, tmp_path, POLICY)
    with data_signed_in(node, dora) as browser:
        answer = upload(browser, "following", f"{emil.name}\n")
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/policy")
        assert 'id="imports"' not in browser.get("/settings/data").text
    relationship = node.api(dora, "GET", "/api/v1/accounts/relationships", params={"id": emil.id})
    assert not relationship.json()[0]["following"]
    assert not relationship.json()[0]["requested"]
