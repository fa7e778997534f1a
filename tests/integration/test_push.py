"""Web Push: apps subscribe, and a real push receiver on loopback decrypts what arrives.

The receiver holds the phone's side: an ECDH P-256 key pair and an auth secret made here,
and http_ece (or Mastodon.py's own helpers) to decrypt — the node never sees the private key.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import http_ece
import pytest
import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from mastodon import Mastodon

from tests.conftest import BACKENDS
from tests.kit import (
    RunningNode,
    User,
    free_port,
    running_node,
)

WAIT = 60.0  # seconds to wait for a push; a loaded machine is slow, a working node is not


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class TlsServer(ThreadingHTTPServer):
    """Serves https with whichever certificate `context` holds when a connection comes."""

    context: ssl.SSLContext
    connections = 0

    def get_request(self) -> tuple[Any, Any]:
        sock, address = super().get_request()
        self.connections += 1
        return self.context.wrap_socket(sock, server_side=True), address


class Receiver:
    """A push service: records every POST; paths under /gone/ answer 410."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.port = free_port()
        self.tls = tls
        self.received: dict[str, queue.Queue[Received]] = {}
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.inbox(self.path).put(Received(self.path, headers, body))
                self.send_response(410 if self.path.startswith("/gone/") else 201)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        if tls is None:
            self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        else:
            self.server = TlsServer(("127.0.0.1", self.port), Handler)
            self.server.context = tls
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def inbox(self, path: str) -> queue.Queue[Received]:
        with self._lock:
            return self.received.setdefault(path, queue.Queue())

    def endpoint(self, path: str) -> str:
        scheme = "http" if self.tls is None else "https"
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def next(self, path: str) -> Received:
        try:
            return self.inbox(path).get(timeout=WAIT)
        except queue.Empty:
            raise AssertionError(f"no push reached {path}") from None

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Phone:
    """The subscriber's keys, as a phone's push service client makes them."""

    private: ec.EllipticCurvePrivateKey
    auth: bytes

    @classmethod
    def new(cls) -> Phone:
        return cls(ec.generate_private_key(ec.SECP256R1()), os.urandom(16))

    @property
    def p256dh(self) -> str:
        return b64url(
            self.private.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )

    def decrypt(self, push: Received) -> dict[str, Any]:
        encoding = push.headers["content-encoding"]
        if encoding == "aes128gcm":
            plain = http_ece.decrypt(
                push.body, private_key=self.private, auth_secret=self.auth, version="aes128gcm"
            )
        else:
            assert encoding == "aesgcm"
            salt = push.headers["encryption"].partition("salt=")[2].split(";")[0]
            crypto_key = dict(part.split("=", 1) for part in push.headers["crypto-key"].split(";"))
            plain = http_ece.decrypt(
                push.body,
                salt=b64url_decode(salt),
                dh=b64url_decode(crypto_key["dh"]),
                private_key=self.private,
                auth_secret=self.auth,
                version="aesgcm",
            )
        result: dict[str, Any] = json.loads(plain)
        return result


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    service = Receiver()
    yield service
    service.close()


def serving_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return context


@pytest.fixture(scope="module")
def company_ca() -> trustme.CA:
    return trustme.CA(organization_name="Flurfunk Company CA")


@pytest.fixture(scope="module")
def tls_receiver() -> Iterator[Receiver]:
    rogue = trustme.CA(organization_name="Somebody Else")
    service = Receiver(tls=serving_context(rogue))  # until a test puts the right one in
    yield service
    service.close()


@pytest.fixture(scope="module", params=BACKENDS)
def node(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    receiver: Receiver,
    tls_receiver: Receiver,
    company_ca: trustme.CA,
) -> Iterator[RunningNode]:
    backend: str = request.param
    tmp: Path = tmp_path_factory.mktemp("push")
    bundle = tmp / "company-ca.pem"
    company_ca.cert_pem.write_to_path(str(bundle))
    with running_node(
        tmp,
        backend,
        FLURFUNK_PUSH_HOSTS=f"127.0.0.1:{receiver.port},127.0.0.1:{tls_receiver.port}",
        FLURFUNK_CA_BUNDLE=str(bundle),
    ) as n:
        yield n


def subscribe(
    node: RunningNode, user: User, endpoint: str, phone: Phone, *, standard: bool, **alerts: bool
) -> Any:
    data = {
        "subscription": {
            "endpoint": endpoint,
            "standard": standard,
            "keys": {"p256dh": phone.p256dh, "auth": b64url(phone.auth)},
        },
        "data": {"alerts": alerts, "policy": "all"},
    }
    return node.api(user, "POST", "/api/v1/push/subscription", json=data)


def server_key(node: RunningNode) -> str:
    key: str = node.api(None, "GET", "/api/v1/instance").json()["configuration"]["vapid"][
        "public_key"
    ]
    return key


@pytest.mark.parametrize("standard", [True, False])
def test_a_favourite_reaches_the_phone_encrypted(
    node: RunningNode, receiver: Receiver, standard: bool
) -> None:
    alice, bob = node.create_user("alice"), node.create_user("bob")
    phone = Phone.new()
    path = f"/push/{alice.name}"
    answer = subscribe(
        node, alice, receiver.endpoint(path), phone, standard=standard, favourite=True
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["alerts"]["favourite"] is True
    assert answer.json()["alerts"]["mention"] is False
    assert answer.json()["server_key"] == server_key(node)

    post = node.api(alice, "POST", "/api/v1/statuses", data={"status": "Lunch at noon?"})
    node.api(bob, "POST", f"/api/v1/statuses/{post.json()['id']}/favourite").raise_for_status()

    push = receiver.next(path)
    message = phone.decrypt(push)
    assert message["notification_type"] == "favourite"
    assert message["access_token"] == alice.token
    assert bob.name in message["title"]
    assert message["body"] == "Lunch at noon?"
    assert message["icon"].startswith("http")
    notifications = node.api(alice, "GET", "/api/v1/notifications").json()
    assert message["notification_id"] == notifications[0]["id"]
    # VAPID on every push, signed with the key the node publishes.
    if standard:
        assert push.headers["authorization"].startswith("vapid t=")
        assert f"k={server_key(node)}" in push.headers["authorization"]
    else:
        assert push.headers["authorization"].startswith("WebPush ")
        assert f"p256ecdsa={server_key(node)}" in push.headers["crypto-key"]


def test_only_the_chosen_alerts_are_pushed(node: RunningNode, receiver: Receiver) -> None:
    alice, bob = node.create_user("alice"), node.create_user("bob")
    phone = Phone.new()
    path = f"/push/{alice.name}"
    subscribe(node, alice, receiver.endpoint(path), phone, standard=True, mention=True)
    post = node.api(alice, "POST", "/api/v1/statuses", data={"status": "a quiet post"})
    node.api(bob, "POST", f"/api/v1/statuses/{post.json()['id']}/favourite").raise_for_status()
    node.api(bob, "POST", "/api/v1/statuses", data={"status": f"@{alice.name} ping"})
    message = phone.decrypt(receiver.next(path))
    assert message["notification_type"] == "mention"  # the favourite was not pushed
    assert f"@{alice.name} ping" in message["body"]


def test_an_endpoint_outside_push_hosts_is_refused(node: RunningNode) -> None:
    alice = node.create_user("alice")
    for endpoint in (
        "https://fcm.googleapis.com/fcm/send/abc",
        f"http://127.0.0.1:{free_port()}/push/elsewhere",
        "ftp://127.0.0.1/push",
    ):
        answer = subscribe(node, alice, endpoint, Phone.new(), standard=True, mention=True)
        assert answer.status_code == 422, answer.text
        assert "error" in answer.json()
    assert node.api(alice, "GET", "/api/v1/push/subscription").status_code == 404


def test_bad_keys_are_refused(node: RunningNode, receiver: Receiver) -> None:
    alice = node.create_user("alice")
    answer = node.api(
        alice,
        "POST",
        "/api/v1/push/subscription",
        json={"subscription": {"endpoint": receiver.endpoint("/push/x"), "keys": {"p256dh": "x"}}},
    )
    assert answer.status_code == 422
    assert node.api(alice, "GET", "/api/v1/push/subscription").status_code == 404


def test_a_gone_subscription_is_deleted(node: RunningNode, receiver: Receiver) -> None:
    alice, bob = node.create_user("alice"), node.create_user("bob")
    path = f"/gone/{alice.name}"
    subscribe(node, alice, receiver.endpoint(path), Phone.new(), standard=True, follow=True)
    assert node.api(alice, "GET", "/api/v1/push/subscription").status_code == 200
    node.api(bob, "POST", f"/api/v1/accounts/{alice.id}/follow").raise_for_status()
    receiver.next(path)  # answered 410
    for _ in range(100):
        if node.api(alice, "GET", "/api/v1/push/subscription").status_code == 404:
            break
        threading.Event().wait(0.2)
    assert node.api(alice, "GET", "/api/v1/push/subscription").status_code == 404


def test_one_subscription_per_token_changed_and_removed(
    node: RunningNode, receiver: Receiver
) -> None:
    alice = node.create_user("alice")
    other_token = node.password_token(alice.email, alice.password, "read push")
    subscribe(node, alice, receiver.endpoint("/push/one"), Phone.new(), standard=True)
    second = User(alice.name, alice.password, alice.email, other_token)
    assert node.api(second, "GET", "/api/v1/push/subscription").status_code == 404
    changed = node.api(
        alice,
        "PUT",
        "/api/v1/push/subscription",
        json={"data": {"alerts": {"reblog": True}, "policy": "followed"}},
    )
    assert changed.status_code == 200
    shown = node.api(alice, "GET", "/api/v1/push/subscription").json()
    assert shown["alerts"]["reblog"] is True
    assert shown["policy"] == "followed"
    assert shown["endpoint"] == receiver.endpoint("/push/one")
    bad = node.api(alice, "PUT", "/api/v1/push/subscription", json={"data": {"policy": "x"}})
    assert bad.status_code == 422
    assert node.api(alice, "DELETE", "/api/v1/push/subscription").status_code == 200
    assert node.api(alice, "GET", "/api/v1/push/subscription").status_code == 404


def test_policy_none_pushes_nothing_policy_followed_only_followed(
    node: RunningNode, receiver: Receiver
) -> None:
    alice, bob, carol = (node.create_user(n) for n in ("alice", "bob", "carol"))
    phone = Phone.new()
    path = f"/push/{alice.name}"
    subscribe(node, alice, receiver.endpoint(path), phone, standard=True, mention=True)
    node.api(alice, "PUT", "/api/v1/push/subscription", json={"data": {"policy": "followed"}})
    node.api(alice, "POST", f"/api/v1/accounts/{carol.id}/follow").raise_for_status()
    node.api(bob, "POST", "/api/v1/statuses", data={"status": f"@{alice.name} from bob"})
    node.api(carol, "POST", "/api/v1/statuses", data={"status": f"@{alice.name} from carol"})
    message = phone.decrypt(receiver.next(path))
    assert "from carol" in message["body"]  # bob, whom alice does not follow, was not pushed


def test_vapid_key_in_instance_v2_and_apps(node: RunningNode) -> None:
    key = server_key(node)
    assert len(b64url_decode(key)) == 65  # an uncompressed P-256 point
    v2 = node.api(None, "GET", "/api/v2/instance").json()
    assert v2["configuration"]["vapid"]["public_key"] == key
    app = node.api(
        None,
        "POST",
        "/api/v1/apps",
        data={"client_name": "push test", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob"},
    ).json()
    assert app["vapid_key"] == key
    assert (node.data_dir / "vapid_private_key.pem").is_file()


def test_mastodon_py_subscribes_and_decrypts(node: RunningNode, receiver: Receiver) -> None:
    alice, bob = node.create_user("alice"), node.create_user("bob")
    api = Mastodon(access_token=alice.token, api_base_url=node.url)
    private, public = api.push_subscription_generate_keys()
    path = f"/push/mastodonpy-{alice.name}"
    made = api.push_subscription_set(
        receiver.endpoint(path), public, mention_events=True, favourite_events=True
    )
    assert made["alerts"]["mention"] is True
    assert api.push_subscription()["endpoint"] == receiver.endpoint(path)
    node.api(bob, "POST", "/api/v1/statuses", data={"status": f"@{alice.name} see you"})
    push = receiver.next(path)
    message = api.push_subscription_decrypt_push(
        push.body, private, push.headers["encryption"], push.headers["crypto-key"]
    )
    assert message["notification_type"] == "mention"
    assert message["access_token"] == alice.token
    api.push_subscription_delete()
    assert node.api(alice, "GET", "/api/v1/push/subscription").status_code == 404


def test_a_certificate_that_does_not_verify_fails_the_push_and_it_is_retried(
    node: RunningNode, tls_receiver: Receiver, company_ca: trustme.CA
) -> None:
    alice, bob = node.create_user("alice"), node.create_user("bob")
    phone = Phone.new()
    path = f"/push/{alice.name}"
    answer = subscribe(
        node, alice, tls_receiver.endpoint(path), phone, standard=True, favourite=True
    )
    assert answer.status_code == 200, answer.text
    post = node.api(alice, "POST", "/api/v1/statuses", data={"status": "over TLS"})
    node.api(bob, "POST", f"/api/v1/statuses/{post.json()['id']}/favourite").raise_for_status()
    server = tls_receiver.server
    assert isinstance(server, TlsServer)
    for _ in range(300):  # the node tried, and refused the certificate another CA issued
        if server.connections:
            break
        threading.Event().wait(0.2)
    assert server.connections
    assert tls_receiver.inbox(path).empty()
    server.context = serving_context(company_ca)  # the push service fixes its certificate
    message = phone.decrypt(tls_receiver.next(path))
    assert message["notification_type"] == "favourite"
