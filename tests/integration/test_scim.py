"""The company directory provisions users over SCIM 2.0 against a running node: a third-party
checker (scim2-tester) finds the server compliant, and calls made as an identity provider
makes them (httpx) create, change, deactivate, reactivate and list users and groups, with
every refusal a SCIM error that changes nothing."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from scim2_tester import Status, check_server

from tests.integration.test_web_pages import csrf
from tests.kit import RunningNode, User, running_node
from tests.scim_kit import (
    GROUP_SCHEMA,
    SCIM_TYPE,
    FreshNames,
    HttpxSCIMClient,
    audit,
    directory,
    find_id,
    is_error,
    patch_body,
    scim_token,
    user_body,
)

HTML = {"Accept": "text/html"}


@pytest.fixture(scope="module")
def token(node: RunningNode) -> str:
    return scim_token(node, "entra")


@pytest.fixture
def idp(node: RunningNode, token: str) -> Iterator[httpx.Client]:
    with directory(node, token) as client:
        yield client


def account(node: RunningNode, name: str) -> httpx.Response:
    return httpx.get(node.url + "/api/v1/accounts/lookup", params={"acct": name}, timeout=30)


def test_scim2_tester_finds_the_server_compliant(node: RunningNode, token: str) -> None:
    strays: list[str] = []  # answers without a SCIM body, to say which request got them

    def note(answer: httpx.Response) -> None:
        if answer.status_code >= 400 and SCIM_TYPE not in answer.headers.get("content-type", ""):
            strays.append(f"{answer.request.method} {answer.request.url} {answer.status_code}")

    with directory(node, token) as http:
        http.event_hooks["response"] = [note]
        client = HttpxSCIMClient(http)
        client.discover()
        user_model = client.get_resource_model("User")
        assert user_model is not None
        # The checker fills attributes with UUIDs unless the model offers examples; these
        # keep to the node's rules for names.
        user_model.model_fields["user_name"].examples = FreshNames("tester")
        user_model.model_fields["display_name"].examples = FreshNames("Tester ")
        results = check_server(client)
    failed = [
        f"{r.title}: {r.reason}" for r in results if r.status in (Status.ERROR, Status.CRITICAL)
    ]
    assert not failed, "\n".join(failed)
    assert not strays, strays
    assert sum(r.status == Status.SUCCESS for r in results) >= 50


def test_create_read_filter_and_audit(node: RunningNode, idp: httpx.Client) -> None:
    created = idp.post(
        "/Users",
        json=user_body(
            "Anna.Schmidt",
            displayName="Anna Schmidt",
            emails=[{"value": "anna.schmidt@corp.example", "primary": True, "type": "work"}],
            externalId="00u-anna",
            title="Buchhaltung",  # kept by the directory, not by the node: accepted, ignored
        ),
    )
    assert created.status_code == 201, created.text
    assert created.headers["content-type"].startswith(SCIM_TYPE)
    body = created.json()
    assert created.headers["location"] == body["meta"]["location"]
    assert body["userName"] == "Anna.Schmidt"
    assert body["active"] is True
    assert body["externalId"] == "00u-anna"
    assert body["emails"] == [{"value": "anna.schmidt@corp.example"}]
    assert "title" not in body

    read = idp.get(f"/Users/{body['id']}").json()
    assert read["displayName"] == "Anna Schmidt"
    listed = idp.get("/Users", params={"filter": 'userName eq "anna.schmidt"'}).json()
    assert listed["totalResults"] == 1
    assert [r["id"] for r in listed["Resources"]] == [body["id"]]
    none = idp.get("/Users", params={"filter": 'userName eq "nobody-here"'}).json()
    assert none["totalResults"] == 0
    assert none.get("Resources", []) == []

    profile = account(node, "Anna.Schmidt").json()
    assert profile["display_name"] == "Anna Schmidt"
    assert ("scim:entra", "user.create", "Anna.Schmidt") in audit(node)


def test_patch_takes_the_path_and_the_value_object_forms(
    node: RunningNode, idp: httpx.Client
) -> None:
    user_id = idp.post("/Users", json=user_body("bernd", displayName="Bernd")).json()["id"]

    path_form = idp.patch(
        f"/Users/{user_id}",
        json=patch_body(
            {"op": "Replace", "path": "displayName", "value": "Bernd Bauer"},  # Entra's casing
            {"op": "add", "path": "emails", "value": [{"value": "bernd@corp.example"}]},
        ),
    )
    assert path_form.status_code == 200, path_form.text
    assert path_form.json()["displayName"] == "Bernd Bauer"
    assert account(node, "bernd").json()["display_name"] == "Bernd Bauer"

    value_form = idp.patch(
        f"/Users/{user_id}",
        json=patch_body(
            {
                "op": "replace",
                "value": {
                    "displayName": "Bernd B.",
                    "externalId": "ext-bernd",
                    "emails": [{"value": "bernd.b@corp.example", "primary": True}],
                },
            }
        ),
    )
    assert value_form.status_code == 200, value_form.text
    read = idp.get(f"/Users/{user_id}").json()
    assert read["displayName"] == "Bernd B."
    assert read["externalId"] == "ext-bernd"
    assert read["emails"] == [{"value": "bernd.b@corp.example"}]
    assert account(node, "bernd").json()["display_name"] == "Bernd B."

    removed = idp.patch(f"/Users/{user_id}", json=patch_body({"op": "remove", "path": "emails"}))
    assert removed.status_code == 200
    assert "emails" not in removed.json()
    # Entra ID's mapping names the address by its type, also for the first one.
    work = 'emails[type eq "work"].value'
    added = idp.patch(
        f"/Users/{user_id}", json=patch_body({"op": "Add", "path": work, "value": "b@corp.example"})
    )
    assert added.status_code == 200, added.text
    assert added.json()["emails"] == [{"value": "b@corp.example"}]
    changed = patch_body({"op": "Replace", "path": work, "value": "bb@corp.example"})
    assert idp.patch(f"/Users/{user_id}", json=changed).json()["emails"] == [
        {"value": "bb@corp.example"}
    ]
    assert ("scim:entra", "user.scim_update", "bernd") in audit(node)


def test_put_replaces_what_the_node_keeps(node: RunningNode, idp: httpx.Client) -> None:
    user_id = idp.post(
        "/Users", json=user_body("carla", displayName="Carla", externalId="c-1")
    ).json()["id"]
    replaced = idp.put(f"/Users/{user_id}", json=user_body("carla", displayName="Carla Conti"))
    assert replaced.status_code == 200, replaced.text
    body = replaced.json()
    assert body["displayName"] == "Carla Conti"
    assert "externalId" not in body  # a replacement without it clears it
    assert body["active"] is True  # left out: stays what it was


class OpenStream:
    """A user stream (SSE) read in the background: `ended` is set when the node ends it."""

    def __init__(self, node: RunningNode, token: str) -> None:
        self.ended = threading.Event()
        self.opened = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(node, token), daemon=True)
        self._thread.start()
        assert self.opened.wait(20), "the stream did not open"

    def _read(self, node: RunningNode, token: str) -> None:
        url = node.url + "/api/v1/streaming/user"
        with httpx.stream("GET", url, params={"access_token": token}, timeout=60) as answer:
            assert answer.status_code == 200
            for _ in answer.iter_lines():
                self.opened.set()
        self.ended.set()


def sign_in_page(node: RunningNode, user: User) -> httpx.Response:
    with httpx.Client(base_url=node.url, headers=HTML, timeout=30) as browser:
        token = csrf(browser.get("/auth/sign_in"))
        return browser.post(
            "/auth/sign_in",
            data={"csrf_token": token, "login": user.name, "password": user.password},
        )


def password_grant(node: RunningNode, user: User) -> httpx.Response:
    node.app_token()
    assert node._app is not None
    return httpx.post(
        node.url + "/oauth/token",
        timeout=30,
        data={
            "grant_type": "password",
            "username": user.name,
            "password": user.password,
            "client_id": node._app["client_id"],
            "client_secret": node._app["client_secret"],
            "scope": "read write",
        },
    )


def test_deactivation_ends_everything_at_once_and_reactivation_lifts_it(
    node: RunningNode, idp: httpx.Client
) -> None:
    leaver = node.create_user("leaver")  # existed before the directory: found by its name
    user_id = find_id(idp, leaver.name)
    stream = OpenStream(node, leaver.token)
    with httpx.Client(base_url=node.url, headers=HTML, timeout=30) as browser:
        form = csrf(browser.get("/auth/sign_in"))
        signed_in = browser.post(
            "/auth/sign_in",
            data={"csrf_token": form, "login": leaver.name, "password": leaver.password},
        )
        assert signed_in.status_code == 303
        assert browser.get("/settings").status_code == 200

        off = idp.patch(
            f"/Users/{user_id}",
            json=patch_body({"op": "Replace", "path": "active", "value": "False"}),  # as Entra
        )
        assert off.status_code == 200, off.text
        assert off.json()["active"] is False

        # The change runs in the serving process: its streams end at once (the 5 s the
        # issue allows is a bound; 10 s keeps a loaded test machine from failing it).
        assert stream.ended.wait(10), "the deactivated user's stream stayed open"
        page = browser.get("/settings", follow_redirects=False)
        assert page.status_code in (302, 303, 401), page.status_code
    assert node.api(leaver, "GET", "/api/v1/accounts/verify_credentials").status_code == 401
    assert password_grant(node, leaver).status_code in (400, 401, 403)
    assert sign_in_page(node, leaver).status_code == 401
    assert idp.get(f"/Users/{user_id}").json()["active"] is False
    assert ("scim:entra", "user.disable", leaver.name) in audit(node)
    listed = node.cli("user", "list", "--search", leaver.name).stdout
    assert re.search(rf"^{leaver.name}\s+user\s+disabled\s", listed, re.M), listed

    on = idp.patch(
        f"/Users/{user_id}", json=patch_body({"op": "replace", "value": {"active": True}})
    )
    assert on.status_code == 200, on.text
    assert on.json()["active"] is True
    again = password_grant(node, leaver)
    assert again.status_code == 200, again.text
    assert sign_in_page(node, leaver).status_code == 303
    assert ("scim:entra", "user.enable", leaver.name) in audit(node)


def test_a_user_created_inactive_cannot_sign_in(node: RunningNode, idp: httpx.Client) -> None:
    created = idp.post("/Users", json=user_body("dora", active=False))
    assert created.status_code == 201
    assert created.json()["active"] is False
    reset = node.cli("user", "reset-password", "dora").stdout.strip().splitlines()[-1]
    assert password_grant(node, User("dora", reset, "", "")).status_code in (400, 401, 403)


def test_groups_map_to_roles_and_other_groups_are_kept(
    node: RunningNode, idp: httpx.Client
) -> None:
    boss, cook = node.create_user("boss"), node.create_user("cook")
    boss_id, cook_id = find_id(idp, boss.name), find_id(idp, cook.name)

    def role(user: User) -> str:
        me = node.api(user, "GET", "/api/v1/accounts/verify_credentials").json()
        return str(me["role"]["name"]).lower() or "user"  # no name: the everyone role

    admins = idp.post(
        "/Groups",
        json={"schemas": [GROUP_SCHEMA], "displayName": "Admins", "members": [{"value": boss_id}]},
    )
    assert admins.status_code == 201, admins.text
    admins_id = admins.json()["id"]
    kantine = idp.post(
        "/Groups",
        json={"schemas": [GROUP_SCHEMA], "displayName": "Kantine", "members": [{"value": cook_id}]},
    ).json()
    assert role(boss) == "admin"
    assert role(cook) == "user"
    assert [m["value"] for m in idp.get(f"/Groups/{kantine['id']}").json()["members"]] == [cook_id]
    assert {g["display"] for g in idp.get(f"/Users/{cook_id}").json()["groups"]} == {"Kantine"}
    listed = idp.get("/Groups", params={"filter": 'displayName eq "kantine"'}).json()
    assert [g["id"] for g in listed["Resources"]] == [kantine["id"]]

    # Entra adds and removes members with PATCH on the path "members".
    added = idp.patch(
        f"/Groups/{admins_id}",
        json=patch_body({"op": "Add", "path": "members", "value": [{"value": cook_id}]}),
    )
    assert added.status_code == 200, added.text
    assert role(cook) == "admin"
    idp.patch(
        f"/Groups/{admins_id}",
        json=patch_body({"op": "Remove", "path": f'members[value eq "{boss_id}"]'}),
    ).raise_for_status()
    assert role(boss) == "user"
    assert ("scim:entra", "user.role", boss.name) in audit(node)

    owner = node.create_user("owner")
    node.cli("user", "role", owner.name, "owner")
    joins = {"op": "add", "path": "members", "value": [{"value": find_id(idp, owner.name)}]}
    idp.patch(f"/Groups/{admins_id}", json=patch_body(joins)).raise_for_status()
    assert role(owner) == "owner"  # the group's role gives nothing the owner lacks

    assert idp.delete(f"/Groups/{admins_id}").status_code == 204
    assert role(cook) == "user"
    assert role(owner) == "owner"
    assert idp.get(f"/Groups/{admins_id}").status_code == 404
    node.cli("user", "delete", cook.name, "--yes")  # deleted by an admin, not the directory
    assert "members" not in idp.get(f"/Groups/{kantine['id']}").json()
    assert idp.delete(f"/Groups/{kantine['id']}").status_code == 204


def test_groups_map_to_flurfunk_group_memberships(tmp_path: Path) -> None:
    env = {"FLURFUNK_SCIM_GROUP_MAP": "Apollo Team=apollo,Ghosts=nosuchgroup"}
    with running_node(tmp_path, "sqlite", **env) as node, directory(node, scim_token(node)) as idp:
        owner, anna, ben = (node.create_user(p) for p in ("owner", "anna", "ben"))
        node.cli("group", "create", "apollo", "--owner", owner.name, "--join", "invite")
        ids = {u.name: find_id(idp, u.name) for u in (owner, anna, ben)}

        def members() -> dict[str, str]:
            answer = node.api(owner, "GET", "/api/v1/flurfunk/groups/apollo/members")
            assert answer.status_code == 200, answer.text
            return {m["account"]["username"]: m["role"] for m in answer.json()}

        def group_body(*names: str) -> dict[str, object]:
            listed = [{"value": ids[n]} for n in names]
            return {"schemas": [GROUP_SCHEMA], "displayName": "apollo team", "members": listed}

        team = idp.post("/Groups", json=group_body(anna.name))  # the name in any case
        assert team.status_code == 201, team.text
        team_id = team.json()["id"]
        assert members() == {owner.name: "owner", anna.name: "member"}
        assert ("scim:directory", "group.member_add", f"group:apollo {anna.name}") in audit(node)
        # A map entry naming no group of this node is skipped; the call succeeds.
        ghosts = {
            "schemas": [GROUP_SCHEMA],
            "displayName": "Ghosts",
            "members": [{"value": ids[ben.name]}],
        }
        assert idp.post("/Groups", json=ghosts).status_code == 201

        add = {
            "op": "Add",
            "path": "members",
            "value": [{"value": ids[ben.name]}, {"value": ids[owner.name]}],
        }
        idp.patch(f"/Groups/{team_id}", json=patch_body(add)).raise_for_status()
        assert members() == {owner.name: "owner", anna.name: "member", ben.name: "member"}
        remove = {"op": "Remove", "path": f'members[value eq "{ids[anna.name]}"]'}
        idp.patch(f"/Groups/{team_id}", json=patch_body(remove)).raise_for_status()
        assert members() == {owner.name: "owner", ben.name: "member"}
        assert ("scim:directory", "group.member_remove", f"group:apollo {anna.name}") in audit(node)
        # PUT replaces the members; the owner stays owner when the directory drops them too.
        assert idp.put(f"/Groups/{team_id}", json=group_body(anna.name)).status_code == 200
        assert members() == {owner.name: "owner", anna.name: "member"}
        assert idp.delete(f"/Groups/{team_id}").status_code == 204
        assert members() == {owner.name: "owner"}


def test_pages_cover_every_user_once(node: RunningNode, idp: httpx.Client) -> None:
    for _ in range(3):
        node.create_user("paged")
    total = idp.get("/Users", params={"count": 0}).json()["totalResults"]
    assert total >= 3
    seen: list[str] = []
    start = 1
    while start <= total:
        page = idp.get("/Users", params={"startIndex": start, "count": 2}).json()
        assert page["startIndex"] == start
        assert page["itemsPerPage"] == len(page["Resources"]) <= 2
        seen += [r["id"] for r in page["Resources"]]
        start += 2
    assert len(seen) == len(set(seen)) == total
    for start in (total + 5, 10**30):
        beyond = idp.get("/Users", params={"startIndex": start}).json()
        assert beyond["totalResults"] == total
        assert beyond.get("Resources", []) == []
    below = idp.get("/Users", params={"startIndex": -3, "count": 1}).json()
    assert below["startIndex"] == 1
    assert [r["id"] for r in below["Resources"]] == seen[:1]
    is_error(idp.get("/Users", params={"startIndex": "first"}), 400)


def test_the_token_is_the_directory_s_own(node: RunningNode, alice: User) -> None:
    bare = httpx.get(node.url + "/scim/v2/Users", timeout=30)
    is_error(bare, 401)
    assert bare.headers["www-authenticate"].startswith("Bearer")
    with directory(node, alice.token) as oauth_token:  # a Mastodon API token is no SCIM token
        is_error(oauth_token.get("/Users"), 401)
    with directory(node, "x" * 43) as guessed:
        is_error(guessed.post("/Users", json=user_body("intruder")), 401)
    assert account(node, "intruder").status_code == 404


def test_bad_requests_are_scim_errors_that_change_nothing(
    node: RunningNode, idp: httpx.Client
) -> None:
    kept = idp.post(
        "/Users",
        json=user_body("erik", displayName="Erik", emails=[{"value": "erik@corp.example"}]),
    ).json()
    before = idp.get("/Users", params={"count": 0}).json()["totalResults"]
    entries = len(audit(node))

    is_error(idp.post("/Users", content=b'{"userName": '), 400, "invalidSyntax")
    is_error(idp.post("/Users", content=b"[1, 2]"), 400, "invalidSyntax")
    is_error(idp.post("/Users", json={"schemas": [GROUP_SCHEMA]}), 400)
    is_error(idp.post("/Users", json={"displayName": "no user name"}), 400)
    for hostile in ("bad name!", "anna@corp.example", "x" * 31, "../admin", "", " ", "ä" * 5):
        is_error(idp.post("/Users", json=user_body(hostile)), 400)
    is_error(idp.post("/Users", json=user_body("fritz", displayName="F" * 31)), 400)
    is_error(idp.post("/Users", json=user_body("fritz", emails=[{"value": "nope"}])), 400)
    is_error(idp.post("/Users", json=user_body("ERIK")), 409, "uniqueness")
    taken_mail = user_body("fritz", emails=[{"value": "ERIK@corp.example"}])
    is_error(idp.post("/Users", json=taken_mail), 409, "uniqueness")
    huge = user_body("fritz", displayName="x" * (2 * 1024 * 1024))
    is_error(idp.post("/Users", json=huge), 413)

    for query in ('displayName co "E"', 'userName sw "e"', 'userName eq "a" or userName eq "b"'):
        is_error(idp.get("/Users", params={"filter": query}), 400, "invalidFilter")
    is_error(
        idp.get("/Users", params={"filter": 'userName eq "unterminated'}), 400, "invalidFilter"
    )

    user_path = f"/Users/{kept['id']}"
    renamed = patch_body({"op": "replace", "path": "userName", "value": "erika"})
    is_error(idp.patch(user_path, json=renamed), 400, "mutability")
    is_error(idp.put(user_path, json=user_body("erika")), 400, "mutability")
    is_error(idp.patch(user_path, json=patch_body({"op": "explode", "path": "active"})), 400)
    is_error(
        idp.patch(user_path, json=patch_body({"op": "replace", "path": "nope", "value": 1})), 400
    )
    is_error(idp.patch(user_path, json={"schemas": [], "Operations": "all"}), 400)
    is_error(idp.patch(user_path, json=patch_body()), 400)
    is_error(idp.get("/Users/123"), 404)
    is_error(idp.get("/Users/not-a-number"), 404)
    is_error(idp.delete("/Users/99999999999999999999999"), 404)
    is_error(idp.patch("/Users/9999999999999999999", json=renamed), 404)
    is_error(idp.get("/Groups/9223372036854775808"), 404)
    too_big = {"schemas": [GROUP_SCHEMA], "displayName": "x", "members": [{"value": "9" * 19}]}
    is_error(idp.post("/Groups", json=too_big), 400, "invalidValue")
    no_member = {"schemas": [GROUP_SCHEMA], "displayName": "ghosts", "members": [{"value": "1"}]}
    is_error(idp.post("/Groups", json=no_member), 400, "invalidValue")
    is_error(idp.post("/Groups", json={"schemas": [GROUP_SCHEMA], "displayName": ""}), 400)
    is_error(idp.post("/Groups", json={"schemas": [GROUP_SCHEMA], "displayName": "g" * 256}), 400)
    is_error(idp.post("/Users", json=user_body("fritz", externalId="e" * 256)), 400)

    assert idp.get("/Users", params={"count": 0}).json()["totalResults"] == before
    assert idp.get(user_path).json() == kept
    assert (
        idp.get("/Groups", params={"filter": 'displayName eq "ghosts"'}).json()["totalResults"] == 0
    )
    assert len(audit(node)) == entries


def test_discovery_says_what_the_node_supports(idp: httpx.Client) -> None:
    config = idp.get("/ServiceProviderConfig").json()
    assert config["patch"]["supported"] is True
    assert config["bulk"]["supported"] is False
    assert config["filter"] == {"supported": True, "maxResults": 200}
    assert config["authenticationSchemes"][0]["type"] == "oauthbearertoken"
    types = {t["name"]: t["endpoint"] for t in idp.get("/ResourceTypes").json()["Resources"]}
    assert types == {"User": "/Users", "Group": "/Groups"}
    user_schema = idp.get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User").json()
    attributes = {a["name"]: a for a in user_schema["attributes"]}
    assert set(attributes) == {"userName", "displayName", "active", "emails", "groups"}
    assert attributes["userName"]["mutability"] == "immutable"


def test_the_cli_prints_the_token_last_and_refuses_a_bad_label(node: RunningNode) -> None:
    made = node.cli("scim", "token", "--name", "okta")
    token = made.stdout.strip().splitlines()[-1]
    assert len(token) == 43
    with directory(node, token) as client:
        assert client.get("/ServiceProviderConfig").status_code == 200
    assert "cli:" in " ".join(o for o, a, t in audit(node) if a == "scim.token_create")
    refused = node.cli("scim", "token", "--name", "x" * 65, check=False)
    assert refused.returncode == 2
    assert "label" in refused.stderr
    assert "--name" in node.cli("scim", "token", "--help").stdout
