"""Single sign-on with a real OpenID provider on loopback (tests/oidc_kit.py): accounts made
and linked at the first sign-in, roles from the provider's groups, the Mastodon apps' flow
under sign-on, and every refusal answering a page that says why while nothing changes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from mastodon import Mastodon

from tests.integration.test_oauth import Forms
from tests.kit import RunningNode, running_node
from tests.oidc_kit import (
    CLIENT_ID,
    CLIENT_SECRET,
    Provider,
    authorize_at_provider,
    callback_params,
    new_person,
    provider_in_thread,
    sign_on,
    start_sign_on,
)
from tests.scim_kit import audit

OOB = "urn:ietf:wg:oauth:2.0:oob"


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    with provider_in_thread() as found:
        yield found


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory, provider: Provider) -> Iterator[RunningNode]:
    tmp: Path = tmp_path_factory.mktemp("sign-on")
    # apollo is made by a test; no group of this node is called nosuchgroup.
    group_map = "proj-apollo=apollo,apollo-leads=apollo,ghosts=nosuchgroup"
    with running_node(
        tmp, "sqlite", **provider.node_env(FLURFUNK_OIDC_GROUP_MAP=group_map)
    ) as found:
        yield found


@pytest.fixture(autouse=True)
def honest(provider: Provider) -> Iterator[None]:
    provider.tampering.mode = None
    yield
    provider.tampering.mode = None


def exists(node: RunningNode, name: str) -> bool:
    answer = httpx.get(node.url + "/api/v1/accounts/lookup", params={"acct": name})
    return answer.status_code == 200


def signed_in(browser: httpx.Client, node: RunningNode) -> bool:
    """Whether the browser's session is a signed-in one (the settings page opens)."""
    return browser.get(node.url + "/settings").status_code == 200


def credentials(node: RunningNode, name: str) -> dict[str, object]:
    token = node.cli("user", "token", name).stdout.strip().splitlines()[-1]
    me = httpx.get(
        node.url + "/api/v1/accounts/verify_credentials",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert me.status_code == 200, me.text
    found: dict[str, object] = me.json()
    return found


def role_of(node: RunningNode, name: str) -> str:
    role = credentials(node, name)["role"]
    assert isinstance(role, dict)
    return str(role["name"]).lower() or "user"  # Mastodon's everyone role has no name


def test_sign_in_page_links_to_the_company_sign_in(node: RunningNode) -> None:
    english = httpx.get(node.url + "/auth/sign_in", headers={"Accept-Language": "en"})
    assert "Sign in with your company account" in english.text
    assert 'href="/auth/oidc?next=%2F"' in english.text
    assert 'name="password"' in english.text  # the password form stays without OIDC_ONLY
    german = httpx.get(node.url + "/auth/sign_in", headers={"Accept-Language": "de"})
    assert "Mit dem Firmenkonto anmelden" in german.text


def test_first_sign_in_creates_the_account_with_its_mapped_role(
    node: RunningNode, provider: Provider
) -> None:
    sub, name = new_person(provider, name="Erika Muster", groups=["admins", "staff"])
    verified = provider.tampering.pkce.verified
    with httpx.Client() as browser:
        answer = sign_on(browser, node.url, provider, sub, next_url="/notifications")
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"] == "/notifications"
        assert signed_in(browser, node)
    assert provider.tampering.pkce.verified == verified + 1  # the code came with its verifier
    assert provider.tampering.pkce.clients[-1] == (CLIENT_ID, CLIENT_SECRET)  # HTTP Basic
    me = credentials(node, name)
    assert me["username"] == name
    assert me["display_name"] == "Erika Muster"
    assert role_of(node, name) == "admin"
    listed = node.cli("user", "list", "--search", name).stdout
    assert f"{name}@corp.example" in listed
    # The second sign-in finds the same account (no second one appears).
    with httpx.Client() as browser:
        assert sign_on(browser, node.url, provider, sub).status_code == 303
    listed = node.cli("user", "list", "--search", name).stdout
    assert [line.split()[0] for line in listed.splitlines()[1:]] == [name]


def test_role_map_is_applied_at_every_sign_in(node: RunningNode, provider: Provider) -> None:
    sub, name = new_person(provider, groups=["moderators"])
    with httpx.Client() as browser:
        assert sign_on(browser, node.url, provider, sub).status_code == 303
    assert role_of(node, name) == "moderator"
    # Promoted in the directory: admin at the next sign-in.
    provider.person(sub, preferred_username=name, groups=["admins", "moderators"])
    with httpx.Client() as browser:
        assert sign_on(browser, node.url, provider, sub).status_code == 303
        audit = browser.get(node.url + "/admin/federation")
        assert audit.status_code == 200
        assert "role=admin was=moderator" in audit.text
        assert '<strong class="operator">sign-on</strong>' in audit.text
    assert role_of(node, name) == "admin"
    # Left every mapped group: back to user.
    provider.person(sub, preferred_username=name, groups=["staff"])
    with httpx.Client() as browser:
        assert sign_on(browser, node.url, provider, sub).status_code == 303
    assert role_of(node, name) == "user"
    # A role the map does not name, given by an admin, stays.
    node.cli("role", "create", "editor", "--permissions", "announce")
    node.cli("user", "role", name, "editor")
    with httpx.Client() as browser:
        assert sign_on(browser, node.url, provider, sub).status_code == 303
    assert role_of(node, name) == "editor"


def test_group_map_keeps_flurfunk_group_memberships_in_step(
    node: RunningNode, provider: Provider
) -> None:
    owner = node.create_user("apolloowner")
    # An invite group: the directory adds members all the same (it is the truth).
    node.cli("group", "create", "apollo", "--owner", owner.name, "--join", "invite")

    def members() -> dict[str, str]:
        answer = node.api(owner, "GET", "/api/v1/flurfunk/groups/apollo/members")
        assert answer.status_code == 200, answer.text
        return {m["account"]["username"]: m["role"] for m in answer.json()}

    # ghosts maps to a group this node does not have: skipped, the sign-in goes on.
    sub, name = new_person(provider, groups=["proj-apollo", "ghosts"])
    with httpx.Client() as browser:
        assert sign_on(browser, node.url, provider, sub).status_code == 303
        assert signed_in(browser, node)
    assert members() == {owner.name: "owner", name: "member"}
    assert ("sign-on", "group.member_add", f"group:apollo {name}") in audit(node)
    # Still in a directory group mapped to apollo: stays, nothing is written again.
    provider.person(sub, preferred_username=name, groups=["apollo-leads"])
    with httpx.Client() as browser:
        assert sign_on(browser, node.url, provider, sub).status_code == 303
    assert members()[name] == "member"
    assert [e for e in audit(node) if e[1:] == ("group.member_add", f"group:apollo {name}")] == [
        ("sign-on", "group.member_add", f"group:apollo {name}")
    ]
    # Left the directory groups: no member of apollo after the next sign-in.
    provider.person(sub, preferred_username=name, groups=["staff"])
    with httpx.Client() as browser:
        assert sign_on(browser, node.url, provider, sub).status_code == 303
    assert members() == {owner.name: "owner"}
    assert ("sign-on", "group.member_remove", f"group:apollo {name}") in audit(node)
    # A moderator of the group is never removed by the map.
    mod_sub, mod = new_person(provider, groups=["proj-apollo"])
    with httpx.Client() as browser:
        assert sign_on(browser, node.url, provider, mod_sub).status_code == 303
    mod_id = credentials(node, mod)["id"]
    promoted = node.api(
        owner,
        "POST",
        "/api/v1/flurfunk/groups/apollo/members",
        data={"account_id": mod_id, "role": "moderator"},
    )
    assert promoted.status_code == 200, promoted.text
    provider.person(mod_sub, preferred_username=mod, groups=[])
    with httpx.Client() as browser:
        assert sign_on(browser, node.url, provider, mod_sub).status_code == 303
    assert members() == {owner.name: "owner", mod: "moderator"}


def test_first_sign_in_links_by_user_name(node: RunningNode, provider: Provider) -> None:
    local = node.create_user("anna", via_cli=True)
    other_email = f"{local.name}@other.example"
    sub, _ = new_person(provider, preferred_username=local.name, email=other_email)
    with httpx.Client() as browser:
        assert sign_on(browser, node.url, provider, sub).status_code == 303
        assert signed_in(browser, node)
    # Still one account, reached by its old password and by the company sign-in alike.
    assert node.password_token(local.name, local.password, "read")
    listed = node.cli("user", "list", "--search", local.name).stdout
    assert [line.split()[0] for line in listed.splitlines()[1:]] == [local.name]
    assert other_email not in listed


def test_first_sign_in_links_by_a_verified_email(node: RunningNode, provider: Provider) -> None:
    local = node.create_user("bernd", via_cli=True)
    sub, name = new_person(provider, email=local.email, email_verified=True)
    with httpx.Client() as browser:
        answer = sign_on(browser, node.url, provider, sub)
        assert answer.status_code == 303
    assert not exists(node, name)  # linked, not created
    me = credentials(node, local.name)
    assert me["username"] == local.name


def test_an_unverified_email_of_another_account_is_refused(
    node: RunningNode, provider: Provider
) -> None:
    local = node.create_user("carla", via_cli=True)
    sub, name = new_person(provider, email=local.email, email_verified=False)
    with httpx.Client() as browser:
        answer = sign_on(browser, node.url, provider, sub)
        assert answer.status_code == 403
        assert "does not mark it as verified" in answer.text
        assert not signed_in(browser, node)
    assert not exists(node, name)


def test_a_disabled_account_is_refused_a_suspended_one_signs_in(
    node: RunningNode, provider: Provider
) -> None:
    sub, name = new_person(provider)
    with httpx.Client() as browser:
        assert sign_on(browser, node.url, provider, sub).status_code == 303
    node.cli("user", "suspend", name, "--reason", "spam")
    with httpx.Client() as browser:  # to read why, and to appeal
        assert sign_on(browser, node.url, provider, sub).status_code == 303
        assert "spam" in browser.get(node.url + "/settings/moderation").text
    node.cli("user", "unsuspend", name)
    node.cli("user", "disable", name)
    with httpx.Client() as browser:
        answer = sign_on(browser, node.url, provider, sub)
        assert answer.status_code == 403
        assert f"@{name} is switched off" in answer.text
        assert not signed_in(browser, node)


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("issuer", "was not issued by"),
        ("signature", "signature does not match"),
        ("expired", "has expired"),
        ("audience", "issued for another application"),
        ("nonce", "belongs to another sign-in"),
    ],
)
def test_a_bad_id_token_is_refused(
    node: RunningNode, provider: Provider, mode: str, reason: str
) -> None:
    sub, name = new_person(provider, groups=["admins"])
    provider.tampering.mode = mode
    with httpx.Client() as browser:
        answer = sign_on(browser, node.url, provider, sub)
        assert answer.status_code == 403
        assert reason in answer.text
        assert "Signing in with your company account failed" in answer.text
        assert not signed_in(browser, node)
    assert not exists(node, name)


def test_a_replayed_code_is_refused(node: RunningNode, provider: Provider) -> None:
    sub, name = new_person(provider)
    with httpx.Client() as browser:
        callback = authorize_at_provider(browser, start_sign_on(browser, node.url), sub)
        assert browser.get(callback).status_code == 303
        # The same answer again, in the same browser: its state was used.
        again = browser.get(callback)
        assert again.status_code == 400
        assert "used already" in again.text
    # The code with the state of a fresh sign-in: the provider refuses the used code.
    other_sub, other_name = new_person(provider)
    with httpx.Client() as browser:
        fresh = authorize_at_provider(browser, start_sign_on(browser, node.url), other_sub)
        state = callback_params(fresh)["state"]
        code = callback_params(callback)["code"]
        replayed = browser.get(
            node.url + "/auth/oidc/callback?" + urlencode({"code": code, "state": state})
        )
        assert replayed.status_code == 403
        assert "used already or has expired" in replayed.text
        assert not signed_in(browser, node)
    assert exists(node, name)
    assert not exists(node, other_name)


def test_a_changed_state_is_refused(node: RunningNode, provider: Provider) -> None:
    sub, name = new_person(provider)
    with httpx.Client() as browser:
        callback = authorize_at_provider(browser, start_sign_on(browser, node.url), sub)
        params = callback_params(callback)
        params["state"] = params["state"][:-2] + "xx"
        answer = browser.get(node.url + "/auth/oidc/callback?" + urlencode(params))
        assert answer.status_code == 400
        assert "does not belong to a sign-in started in this browser" in answer.text
        assert not signed_in(browser, node)
    assert not exists(node, name)
    # A callback from another browser (no started sign-in) is refused the same way.
    with httpx.Client() as stranger:
        assert stranger.get(callback).status_code == 400


@pytest.mark.parametrize(
    "username",
    ["../admin", "anna maria", "ädmin", "a" * 31, "x<script>", "-lead", "", "name\n"],
)
def test_an_unusable_user_name_is_refused(
    node: RunningNode, provider: Provider, username: str
) -> None:
    sub, _ = new_person(provider, preferred_username=username)
    with httpx.Client() as browser:
        answer = sign_on(browser, node.url, provider, sub)
        assert answer.status_code == 403
        assert "cannot be used here" in answer.text or "sent no user name" in answer.text
        assert "<script>" not in answer.text
        assert not signed_in(browser, node)
    before = node.cli("user", "list").stdout
    assert "x<script>" not in before
    assert "../admin" not in before


def test_claims_of_the_wrong_shape_are_refused(node: RunningNode, provider: Provider) -> None:
    sub, _ = new_person(provider, preferred_username=["list", "of", "names"])
    with httpx.Client() as browser:
        answer = sign_on(browser, node.url, provider, sub)
        assert answer.status_code == 403
        assert "sent no user name" in answer.text
    # Groups of the wrong shape give no role, and the sign-in still works.
    sub, name = new_person(provider, groups={"admins": True})
    with httpx.Client() as browser:
        assert sign_on(browser, node.url, provider, sub).status_code == 303
    assert role_of(node, name) == "user"


def test_hostile_callback_parameters(node: RunningNode, provider: Provider) -> None:
    sub, name = new_person(provider)
    callback = node.url + "/auth/oidc/callback"
    with httpx.Client() as browser:
        started = start_sign_on(browser, node.url)
        state = parse_qs(urlsplit(started).query)["state"][0]
        cases = [
            {},
            {"code": "abc"},
            {"state": [state, state], "code": "abc"},
            {"state": state + "\x00", "code": "abc"},
            {"state": "s" * 5000, "code": "abc"},
            {"state": state, "code": "c" * 5000},
        ]
        for params in cases:
            answer = browser.get(callback, params=params)  # type: ignore[arg-type]
            assert answer.status_code == 400, (params, answer.text)
            assert "Signing in with your company account failed" in answer.text
        # The provider's error, with markup, is shown as text.
        answer = browser.get(callback, params={"state": state, "error": "<b>access_denied</b>"})
        assert answer.status_code == 403
        assert "&lt;b&gt;access_denied&lt;/b&gt;" in answer.text
        assert not signed_in(browser, node)
    with httpx.Client() as browser:
        started = start_sign_on(browser, node.url)
        state = parse_qs(urlsplit(started).query)["state"][0]
        answer = browser.get(callback, params={"state": state, "iss": "http://127.0.0.1:9"})
        assert answer.status_code == 403
        assert "comes from" in answer.text
        answer = browser.get(callback, params={"state": "whatever", "code": "x"})
        assert answer.status_code == 400
    # Sign-ins started in several tabs: each comes back, however long their pages' addresses.
    with httpx.Client() as browser:
        tabs = [
            start_sign_on(browser, node.url, "/search?q=" + "x" * size) for size in (900, 10, 5000)
        ]
        answer = browser.get(authorize_at_provider(browser, tabs[1], sub))
        assert answer.status_code == 303
        assert answer.headers["location"] == "/search?q=" + "x" * 10
    with httpx.Client() as browser:
        tab = start_sign_on(browser, node.url, "/search?q=" + "y" * 5000)
        answer = browser.get(authorize_at_provider(browser, tab, sub))
        assert answer.status_code == 303
        assert answer.headers["location"] == "/"
    # `next` never leaves the node.
    with httpx.Client() as browser:
        page = browser.get(node.url + "/auth/oidc", params={"next": "https://evil.example/"})
        assert page.status_code == 302
        answer = browser.get(authorize_at_provider(browser, page.headers["location"], sub))
        assert answer.status_code == 303
        assert answer.headers["location"] == "/"
    assert exists(node, name)


def test_mastodon_app_authorization_code_flow_under_sign_on(
    node: RunningNode, provider: Provider
) -> None:
    sub, name = new_person(provider, groups=["moderators"])
    scopes = ["read", "write"]
    client_id, client_secret = Mastodon.create_app("sso app", scopes=scopes, api_base_url=node.url)
    api = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=node.url)
    url = api.auth_request_url(scopes=scopes, redirect_uris=OOB, allow_http=True)
    with httpx.Client() as browser:
        first = browser.get(url)
        assert first.status_code == 302
        sign_in_page = first.headers["location"]
        assert sign_in_page.startswith("/auth/sign_in?next=")
        back_to = parse_qs(urlsplit(sign_in_page).query)["next"][0]
        at_provider = start_sign_on(browser, node.url, back_to)
        signed = browser.get(authorize_at_provider(browser, at_provider, sub))
        assert signed.status_code == 303
        assert signed.headers["location"] == back_to
        consent = browser.get(node.url + back_to)
        assert consent.status_code == 200
        assert f"@{name}" in consent.text
        fields = Forms(consent.text).forms["/oauth/authorize"]
        fields["decision"] = "approve"
        shown = browser.post(node.url + "/oauth/authorize", data=fields)
        assert shown.status_code == 200
        code = Forms(shown.text).code
    assert code
    api.log_in(code=code, scopes=scopes, redirect_uri=OOB, allow_http=True)
    me = api.account_verify_credentials()
    assert me["username"] == name
    assert me["role"]["name"].lower() == "moderator"


def test_a_provider_that_names_another_issuer_or_cannot_be_reached(
    tmp_path: Path, provider: Provider
) -> None:
    # The discovery document says "http://127.0.0.1:PORT", the node expects it with a slash.
    env = provider.node_env(FLURFUNK_OIDC_ISSUER=provider.issuer + "/")
    with running_node(tmp_path, "sqlite", **env) as other, httpx.Client() as browser:
        answer = browser.get(other.url + "/auth/oidc")
        assert answer.status_code == 403
        assert "calls itself" in answer.text
    closed = provider.node_env(FLURFUNK_OIDC_ISSUER="http://127.0.0.1:9")
    with running_node(tmp_path, "sqlite", **closed) as other, httpx.Client() as browser:
        answer = browser.get(other.url + "/auth/oidc")
        assert answer.status_code == 502
        assert "cannot be reached" in answer.text
        assert not signed_in(browser, other)


def test_display_name_and_email_are_cleaned(node: RunningNode, provider: Provider) -> None:
    shown = "<b>Ada</b>\u0000\u0007 " + "L" * 300
    sub, name = new_person(provider, name=shown, email="not an address")
    with httpx.Client() as browser:
        assert sign_on(browser, node.url, provider, sub).status_code == 303
        profile = browser.get(f"{node.url}/@{name}", headers={"Accept": "text/html"})
        assert profile.status_code == 200
        assert "&lt;b&gt;Ada&lt;/b&gt;" in profile.text
    me = credentials(node, name)
    assert me["display_name"] == ("<b>Ada</b> " + "L" * 300)[:100]
    listed = node.cli("user", "list", "--search", name).stdout
    assert "not an address" not in listed


@pytest.mark.postgres
def test_sign_on_on_postgresql(tmp_path: Path, provider: Provider) -> None:
    with running_node(tmp_path, "postgres", **provider.node_env()) as pg:
        local = pg.create_user("dora", via_cli=True)
        sub, _ = new_person(provider, preferred_username=local.name.upper(), groups=["admins"])
        with httpx.Client() as browser:
            assert sign_on(browser, pg.url, provider, sub).status_code == 303
            assert signed_in(browser, pg)
        assert role_of(pg, local.name) == "admin"
        # Another company identity with the same user name finds the account taken.
        other, _ = new_person(provider, preferred_username=local.name)
        with httpx.Client() as browser:
            answer = sign_on(browser, pg.url, provider, other)
            assert answer.status_code == 403
            assert "belongs to another company account" in answer.text
            assert not signed_in(browser, pg)
        # A renamed person still reaches their account through the identity.
        provider.person(sub, preferred_username="renamed" + local.name, groups=["admins"])
        with httpx.Client() as browser:
            assert sign_on(browser, pg.url, provider, sub).status_code == 303
        assert not exists(pg, "renamed" + local.name)
