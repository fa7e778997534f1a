"""What other nodes see of this one: WebFinger, host-meta, actors behind authorized fetch."""

from __future__ import annotations

import httpx

from tests.kit import RunningNode, User

AS = "application/activity+json"


def test_webfinger_finds_a_local_user(node: RunningNode, alice: User) -> None:
    domain = node.url.removeprefix("http://")
    answer = httpx.get(
        f"{node.url}/.well-known/webfinger", params={"resource": f"acct:{alice.name}@{domain}"}
    )
    assert answer.status_code == 200
    document = answer.json()
    assert document["subject"] == f"acct:{alice.name}@{domain}"
    self_link = next(x for x in document["links"] if x["rel"] == "self")
    assert self_link == {"rel": "self", "type": AS, "href": f"{node.url}/users/{alice.name}"}


def test_webfinger_unknown_user_and_foreign_domain_are_404(node: RunningNode) -> None:
    domain = node.url.removeprefix("http://")
    for resource in (f"acct:nobody-here@{domain}", "acct:admin@elsewhere.example"):
        answer = httpx.get(f"{node.url}/.well-known/webfinger", params={"resource": resource})
        assert answer.status_code == 404


def test_host_meta_points_at_webfinger(node: RunningNode) -> None:
    answer = httpx.get(f"{node.url}/.well-known/host-meta")
    assert answer.status_code == 200
    assert f"{node.url}/.well-known/webfinger?resource={{uri}}" in answer.text


def test_actor_documents_need_a_signature(node: RunningNode, alice: User) -> None:
    answer = httpx.get(f"{node.url}/users/{alice.name}", headers={"accept": AS})
    assert answer.status_code == 401
    forged = httpx.get(
        f"{node.url}/users/{alice.name}",
        headers={
            "accept": AS,
            "signature": 'keyId="https://evil.example/actor#main-key",'
            'headers="(request-target) host date",signature="AAAA"',
            "date": "now",
        },
    )
    assert forged.status_code == 403  # the signer's host is not allowed: decided before fetching


def test_instance_actor_is_readable_so_our_fetches_can_be_verified(node: RunningNode) -> None:
    answer = httpx.get(f"{node.url}/actor", headers={"accept": AS})
    assert answer.status_code == 200
    document = answer.json()
    assert document["type"] == "Application"
    assert document["publicKey"]["id"] == f"{node.url}/actor#main-key"
    assert "BEGIN PUBLIC KEY" in document["publicKey"]["publicKeyPem"]


def test_browsers_are_sent_to_the_profile_page(node: RunningNode, alice: User) -> None:
    answer = httpx.get(f"{node.url}/users/{alice.name}", headers={"accept": "text/html"})
    assert answer.status_code == 302
    assert answer.headers["location"] == f"{node.url}/@{alice.name}"
