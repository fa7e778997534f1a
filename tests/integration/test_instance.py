"""What apps learn about the node: instance v1/v2, its sub-resources and NodeInfo."""

from __future__ import annotations

import itertools
import secrets
from urllib.parse import urlsplit

import httpx
import pytest
from mastodon import Mastodon

from tests.kit import RunningNode, User

VERSION = "4.3.0 (compatible; Flurfunk 0.1.0)"
NODEINFO_SCHEMA = "http://nodeinfo.diaspora.software/ns/schema/"


def domain_of(node: RunningNode) -> str:
    return urlsplit(node.url).netloc


def registrations_open(node: RunningNode) -> bool:
    return node.env().get("FLURFUNK_REGISTRATIONS_OPEN", "").lower() == "true"


def test_mastodon_py_sees_version_4_3_0_and_api_version_2(node: RunningNode) -> None:
    client = Mastodon(api_base_url=node.url, version_check_mode="created")
    assert client.retrieve_mastodon_version() == "4.3.0"
    assert (client.mastodon_major, client.mastodon_minor, client.mastodon_patch) == (4, 3, 0)
    assert client.mastodon_api_version == 2  # read from /api/v2/instance's api_versions
    assert client.verify_minimum_version("4.3.0", cached=True)
    assert not client.verify_minimum_version("4.4.0", cached=True)


def test_mastodon_py_reads_instance_with_and_without_token(node: RunningNode, alice: User) -> None:
    anonymous = Mastodon(api_base_url=node.url).instance()
    signed_in = Mastodon(access_token=alice.token, api_base_url=node.url).instance()
    for info in (anonymous, signed_in):
        assert info.domain == domain_of(node)  # v2, since the version is at least 4.0.0
        assert info.version == VERSION
        assert info.configuration.statuses.max_characters == 5000
    v1 = Mastodon(api_base_url=node.url).instance_v1()
    assert v1.uri == domain_of(node)


def test_instance_v1_has_what_clients_read(node: RunningNode) -> None:
    response = node.api(None, "GET", "/api/v1/instance")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    info = response.json()
    assert info["uri"] == domain_of(node)
    assert info["title"] == "Flurfunk"
    assert info["version"] == VERSION
    assert info["urls"] == {"streaming_api": "ws://" + domain_of(node)}
    assert info["stats"]["user_count"] >= 1
    assert {"status_count", "domain_count"} <= set(info["stats"])
    assert info["languages"] == ["de", "en"]
    assert info["registrations"] is registrations_open(node)
    assert info["approval_required"] is False
    assert info["invites_enabled"] is False
    assert info["rules"] == []
    config = info["configuration"]
    assert config["statuses"] == {
        "max_characters": 5000,
        "max_media_attachments": 4,
        "characters_reserved_per_url": 23,
    }
    media = config["media_attachments"]
    assert "image/png" in media["supported_mime_types"]
    assert "application/pdf" in media["supported_mime_types"]
    assert media["image_size_limit"] == 16 * 1024 * 1024
    assert {"image_matrix_limit", "video_size_limit", "video_frame_rate_limit"} <= set(media)
    assert {"max_options", "max_characters_per_option", "min_expiration"} <= set(config["polls"])
    assert config["accounts"]["max_pinned_statuses"] == 5
    assert info["contact_account"]["username"] == "admin"


def test_instance_v2_has_what_tusky_reads(node: RunningNode) -> None:
    info = node.api(None, "GET", "/api/v2/instance").json()
    assert info["domain"] == domain_of(node)
    assert info["version"] == VERSION
    assert info["api_versions"] == {"mastodon": 2}  # grouped notifications exist
    assert isinstance(info["source_url"], str)
    assert info["usage"]["users"]["active_month"] >= 0
    assert info["thumbnail"]["url"].startswith(node.url + "/")
    config = info["configuration"]
    assert config["urls"]["streaming"] == "ws://" + domain_of(node)
    assert config["statuses"]["max_characters"] == 5000
    assert config["statuses"]["max_media_attachments"] == 4
    assert "image/jpeg" in config["media_attachments"]["supported_mime_types"]
    assert config["media_attachments"]["image_size_limit"] > 0
    assert config["translation"] == {"enabled": False}
    assert config["polls"]["max_options"] >= 2
    assert info["registrations"]["enabled"] is registrations_open(node)
    assert info["registrations"]["approval_required"] is False
    assert info["registrations"]["message"] is None
    assert info["contact"]["account"]["username"] == "admin"
    assert "email" in info["contact"]
    assert info["rules"] == []


@pytest.mark.parametrize("path", ["/api/v1/instance/", "/api/v2/instance/"])
def test_trailing_slash_is_served(node: RunningNode, path: str) -> None:
    response = node.api(None, "GET", path)
    assert response.status_code == 200
    assert response.json()["version"] == VERSION


def test_a_revoked_or_bogus_token_does_not_hide_the_instance(node: RunningNode) -> None:
    response = httpx.get(node.url + "/api/v1/instance", headers={"Authorization": "Bearer x"})
    assert response.status_code == 200


def test_user_count_grows_with_a_new_user(node: RunningNode) -> None:
    before = node.api(None, "GET", "/api/v1/instance").json()["stats"]["user_count"]
    node.create_user("counted")
    after = node.api(None, "GET", "/api/v1/instance").json()["stats"]["user_count"]
    assert after >= before + 1


def test_instance_answers_cross_origin_requests(node: RunningNode) -> None:
    response = httpx.get(node.url + "/api/v2/instance", headers={"Origin": "https://app.example"})
    assert response.headers["access-control-allow-origin"] == "*"


def test_instance_sub_resources(node: RunningNode) -> None:
    assert isinstance(node.api(None, "GET", "/api/v1/instance/peers").json(), list)
    assert node.api(None, "GET", "/api/v1/instance/rules").json() == []
    assert node.api(None, "GET", "/api/v1/instance/translation_languages").json() == {}
    assert node.api(None, "GET", "/api/v1/instance/domain_blocks").json() == []
    extended = node.api(None, "GET", "/api/v1/instance/extended_description").json()
    assert extended["content"].startswith("<p>")
    assert extended["updated_at"].endswith("Z")


def test_peers_and_instance_show_the_allowlist(node: RunningNode) -> None:
    host = f"peer-{secrets.token_hex(3)}.flurfunk.test"
    wildcard = f"*.branch-{secrets.token_hex(3)}.flurfunk.test"
    node.cli("allowlist", "add", host)
    node.cli("allowlist", "add", wildcard)
    try:
        assert host in node.api(None, "GET", "/api/v1/instance/peers").json()
        assert wildcard not in node.api(None, "GET", "/api/v1/instance/peers").json()
        for path in ("/api/v1/instance", "/api/v2/instance"):
            allowlist = node.api(None, "GET", path).json()["flurfunk"]["federation"]["allowlist"]
            assert {host, wildcard} <= set(allowlist)
    finally:
        node.cli("allowlist", "remove", host)
        node.cli("allowlist", "remove", wildcard)
    assert host not in node.api(None, "GET", "/api/v1/instance/peers").json()


def test_activity_reports_twelve_weeks_as_strings(node: RunningNode, alice: User) -> None:
    weeks = node.api(None, "GET", "/api/v1/instance/activity").json()
    assert len(weeks) == 12
    for entry in weeks:
        assert set(entry) == {"week", "statuses", "logins", "registrations"}
        assert all(isinstance(value, str) and value.isdigit() for value in entry.values())
    starts = [int(entry["week"]) for entry in weeks]
    assert starts == sorted(starts, reverse=True)
    assert all(a - b == 7 * 24 * 3600 for a, b in itertools.pairwise(starts))
    assert int(weeks[0]["registrations"]) >= 1  # alice signed up this week
    assert int(weeks[0]["logins"]) >= 1  # and got a token


def test_nodeinfo_discovery_links_both_versions(node: RunningNode) -> None:
    response = node.api(None, "GET", "/.well-known/nodeinfo")
    assert response.status_code == 200
    links = {link["rel"]: link["href"] for link in response.json()["links"]}
    assert links == {
        NODEINFO_SCHEMA + "2.0": node.url + "/nodeinfo/2.0",
        NODEINFO_SCHEMA + "2.1": node.url + "/nodeinfo/2.1",
    }


@pytest.mark.parametrize("version", ["2.0", "2.1"])
def test_nodeinfo_names_flurfunk_and_its_mastodon_api(node: RunningNode, version: str) -> None:
    response = node.api(None, "GET", f"/nodeinfo/{version}")
    assert response.status_code == 200
    content_type = response.headers["content-type"]
    assert content_type.startswith("application/json")
    assert f'profile="{NODEINFO_SCHEMA}{version}#"' in content_type
    info = response.json()
    assert info["version"] == version
    assert info["software"]["name"] == "flurfunk"
    assert info["software"]["version"] == "0.1.0"
    assert info["protocols"] == ["activitypub"]
    assert info["openRegistrations"] is registrations_open(node)
    assert info["usage"]["users"]["total"] >= 1
    assert {"activeMonth", "activeHalfyear"} <= set(info["usage"]["users"])
    assert info["usage"]["localPosts"] >= 0
    upstream = info["metadata"]["upstream"]
    api_version = node.api(None, "GET", "/api/v1/instance").json()["version"].split(" ")[0]
    assert upstream == {"name": "mastodon", "version": api_version}
    if version == "2.0":
        assert set(info["software"]) == {"name", "version"}  # what the 2.0 schema allows


def test_mastodon_py_reads_nodeinfo(node: RunningNode) -> None:
    info = Mastodon(api_base_url=node.url).instance_nodeinfo()
    assert info.software.name == "flurfunk"
    assert info.metadata.upstream.name == "mastodon"


def test_unknown_nodeinfo_version_is_a_json_404(node: RunningNode) -> None:
    response = node.api(None, "GET", "/nodeinfo/3.0")
    assert response.status_code == 404
    assert response.json() == {"error": "Record not found"}
