"""Attachments that stay confidential, across three real nodes: hq (the author's), sales (a
follower's node) and dev (a node without any follower or recipient).

A followers-only post's picture opens for a follower through their token, their web session
and the URL the API hands them, and on sales through sales' own copy (fetched from hq with a
signed GET); it answers 404 to a non-follower, an anonymous request, an expired or tampered
URL, and dev's signed fetch. The nodes are shared by the module; users are unique per test.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import re
import secrets
import sqlite3
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from mastodon import Mastodon
from PIL import Image

from federation.httpsig_sign import sign_request
from federation.keys import load_private_key
from models.settings import Settings
from outbox.media_access import signed_query
from tests.federation_kit import FedNode, Network, Plan, follows, in_home, network, wait_for
from tests.kit import User


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    plans = {
        "hq": Plan(allow=("sales", "dev")),
        "sales": Plan(allow=("hq", "dev")),
        "dev": Plan(allow=("hq", "sales")),
    }
    with network(tmp_path_factory.mktemp("confidential"), "sqlite", plans) as running:
        yield running


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 60)).save(buffer, "PNG")
    return buffer.getvalue()


def app(node: FedNode, user: User) -> Mastodon:
    return Mastodon(access_token=user.token, api_base_url=node.url)


def post_picture(node: FedNode, user: User, visibility: str, text: str = "Q3 chart") -> Any:
    client = app(node, user)
    media = client.media_post(png(), mime_type="image/png", description="chart")
    return client.status_post(text, media_ids=[media], visibility=visibility)


def local(node: FedNode, url: str) -> str:
    """The URL as the tests reach the node (loopback), path and query kept."""
    parts = urlsplit(url)
    return node.url + parts.path + ("?" + parts.query if parts.query else "")


def path_of(url: str) -> str:
    return urlsplit(url).path


def load(node: FedNode, url: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.get(local(node, url), headers=headers, timeout=30, **kwargs)


def is_picture(answer: httpx.Response) -> bool:
    """The picture itself (the original is a PNG, its preview a JPEG)."""
    return answer.status_code == 200 and answer.content.startswith((b"\x89PNG", b"\xff\xd8"))


def refused(answer: httpx.Response) -> bool:
    """Refused the way a file that does not exist is: 404, nothing kept by a cache."""
    return answer.status_code == 404 and answer.headers.get("cache-control") == "no-store"


def account_id(node: FedNode, user: User) -> int:
    return int(node.api(user, "GET", "/api/v1/accounts/verify_credentials").json()["id"])


def secret_of(node: FedNode) -> Settings:
    return Settings(secret_key=(node.data_dir / "secret_key").read_text().strip())


def follow_here(node: FedNode, user: User, target: User) -> None:
    """`user` follows `target` on the same node (accepted at once: nobody is locked)."""
    answer = node.api(user, "POST", f"/api/v1/accounts/{account_id(node, target)}/follow")
    assert answer.status_code == 200, answer.text
    assert answer.json()["following"] is True


def signed_in(node: FedNode, user: User) -> httpx.Client:
    """A browser-like client signed in through the web form (a session cookie, no token)."""
    browser = httpx.Client(base_url=node.url, headers={"Accept": "text/html"}, timeout=30)
    page = browser.get("/auth/sign_in").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    form = {"csrf_token": token.group(1), "login": user.name, "password": user.password}
    assert browser.post("/auth/sign_in", data=form).status_code == 303
    return browser


def instance_signed_get(signer: FedNode, target: FedNode, path: str) -> httpx.Response:
    """A GET of `path` on `target` signed by `signer`'s own instance actor (its real key)."""
    with contextlib.closing(sqlite3.connect(signer.data_dir / "flurfunk.db")) as db:
        (pem,) = db.execute(
            "SELECT private_key_pem FROM node_keys WHERE name = 'instance-actor'"
        ).fetchone()
    headers = sign_request(
        "GET",
        target.public_url + path,
        {"accept": "*/*", "host": target.domain},
        signer.public_url + "/actor#main-key",
        load_private_key(pem),
    )
    return httpx.get(target.url + path, headers=headers, timeout=30)


def raw_get(node: FedNode, path: str) -> int:
    """GET `path` exactly as written (no client normalises dots or slashes)."""
    connection = http.client.HTTPConnection("127.0.0.1", node.port, timeout=30)
    try:
        connection.request("GET", path)
        answer = connection.getresponse()
        answer.read()
        return answer.status
    finally:
        connection.close()


def test_followers_only_picture_opens_for_followers_only(net: Network) -> None:
    hq, sales, dev = net["hq"], net["sales"], net["dev"]
    author, fan, outsider = hq.create_user("author"), hq.create_user("fan"), hq.create_user("out")
    far_fan, far_outsider = sales.create_user("farfan"), sales.create_user("farout")
    follow_here(hq, fan, author)
    follows(sales, far_fan, hq, author)

    sent = post_picture(hq, author, "private")
    fan_view = app(hq, fan).status(sent.id)
    handed = fan_view.media_attachments[0].url
    plain = local(hq, path_of(handed))

    # The follower: the URL handed to them (no token), their token, their web session.
    assert is_picture(load(hq, handed))
    assert load(hq, handed).headers["cache-control"] == "private, no-store"
    assert is_picture(load(hq, plain, fan.token))
    with contextlib.closing(signed_in(hq, fan)) as browser:
        assert is_picture(browser.get(path_of(handed)))
    with contextlib.closing(signed_in(hq, outsider)) as browser:
        assert refused(browser.get(path_of(handed)))
    # The preview image is signed for them too.
    assert is_picture(load(hq, fan_view.media_attachments[0].preview_url))

    # Nobody else: anonymous, a non-follower's token, a token that is no token.
    assert refused(load(hq, plain))
    assert refused(load(hq, plain, outsider.token))
    assert refused(load(hq, plain, "x" * 43))
    assert app(hq, outsider).account_statuses(account_id(hq, author)) == []

    # The follower's node has its own copy, fetched from hq with a signed GET; on sales it
    # opens for the follower and for nobody else there.
    copy = wait_for(lambda: in_home(sales, far_fan, sent.uri), "the post on sales")
    far_url = copy["media_attachments"][0]["url"]
    assert urlsplit(far_url).path.startswith("/media/remote/")
    wait_for(lambda: is_picture(load(sales, far_url)), "sales' copy of the picture")
    assert is_picture(load(sales, local(sales, path_of(far_url)), far_fan.token))
    assert refused(load(sales, local(sales, path_of(far_url))))
    assert refused(load(sales, local(sales, path_of(far_url)), far_outsider.token))

    # A third node that has no follower or recipient of the post: 404 to its signed fetch;
    # the follower's node's signature opens it (a control: the signing itself is sound).
    attachment_path = path_of(handed)
    assert refused(instance_signed_get(dev, hq, attachment_path))
    assert instance_signed_get(sales, hq, attachment_path).status_code == 200

    # The follower unfollows: the URL handed to them stops working at once.
    author_on_hq = account_id(hq, author)
    assert hq.api(fan, "POST", f"/api/v1/accounts/{author_on_hq}/unfollow").status_code == 200
    assert refused(load(hq, handed))
    assert refused(load(hq, plain, fan.token))


def test_signed_urls_that_were_not_handed_out_open_nothing(net: Network) -> None:
    hq = net["hq"]
    author, fan, other = hq.create_user("author"), hq.create_user("fan"), hq.create_user("other")
    follow_here(hq, fan, author)
    follow_here(hq, other, author)
    sent = post_picture(hq, author, "private")
    second = post_picture(hq, author, "private", "another chart")
    handed = app(hq, fan).status(sent.id).media_attachments[0].url
    path, query = path_of(handed), parse_qs(urlsplit(handed).query)
    fan_id, other_id = account_id(hq, fan), account_id(hq, other)
    assert is_picture(load(hq, handed))

    def with_query(target: str, **changes: str) -> str:
        fields = {k: v[0] for k, v in query.items()} | changes
        return hq.url + target + "?" + urlencode(fields)

    # Another viewer's id, a later expiry, a changed signature: all 404.
    assert refused(load(hq, with_query(path, viewer=str(other_id))))
    later = str(int(query["expires"][0]) + 3600)
    assert refused(load(hq, with_query(path, expires=later)))
    flipped = query["sig"][0][:-2] + ("AA" if not query["sig"][0].endswith("AA") else "BB")
    assert refused(load(hq, with_query(path, sig=flipped)))
    assert refused(load(hq, with_query(path, sig="")))
    assert refused(load(hq, with_query(path, viewer="-1")))
    # The follower's signature does not open another file, not even the same post's preview.
    other_file = path_of(app(hq, fan).status(second.id).media_attachments[0].url)
    assert refused(load(hq, with_query(other_file)))
    # A correctly signed URL that expired an hour ago.
    settings = secret_of(hq)
    expired = signed_query(settings, path, fan_id, now=time.time() - 7200)
    assert refused(load(hq, hq.url + path + "?" + expired))
    # ... and the same signing, current, works: what made the old one fail was its age.
    assert is_picture(load(hq, hq.url + path + "?" + signed_query(settings, path, fan_id)))
    # A URL signed for a viewer who may not see the post opens nothing, signature or not.
    stranger_id = account_id(hq, hq.create_user("stranger"))
    assert refused(load(hq, hq.url + path + "?" + signed_query(settings, path, stranger_id)))


def test_paths_that_try_to_get_around_the_check(net: Network) -> None:
    hq = net["hq"]
    author = hq.create_user("author")
    sent = post_picture(hq, author, "direct", "just for me")
    path = path_of(app(hq, author).status(sent.id).media_attachments[0].url)
    _, _, media_id, folder, name = path.split("/", 5)[1:]
    tries = [
        path,
        "/media/" + path,
        path.replace("/media/", "/media//"),
        path.replace("/media/", "/media/./"),
        path.replace("/media/attachments/", "/media/avatars/../attachments/"),
        path.replace("/media/attachments/", "/media/%61ttachments/"),
        path.replace(f"/{folder}/", f"/{folder}/../{folder}/"),
        path.replace(f"/{folder}/", "/" + "0" * 32 + "/../" + folder + "/"),
        path.replace(f"/{name}", "/%2e%2e/%2e%2e/../../secret_key"),
        f"/media/attachments/{media_id}",
        "/media/attachments",
        "/media/attachments/",
        f"/media/attachments/{int(media_id) + 1}/{folder}/{name}",
        f"/media/attachments/{'9' * 30}/{folder}/{name}",
    ]
    for attempt in tries:
        assert raw_get(hq, attempt) == 404, attempt
    assert app(hq, author).status(sent.id).media_attachments[0].url  # still there for her


def test_members_only_group_picture_is_refused_to_non_members(net: Network) -> None:
    hq = net["hq"]
    owner, member, fan = hq.create_user("gowner"), hq.create_user("member"), hq.create_user("fan")
    name = f"g{secrets.token_hex(4)}"
    hq.cli("group", "create", name, "--owner", owner.name, "--visibility", "members")
    group = app(hq, member).account_lookup(name)
    assert hq.api(member, "POST", f"/api/v1/accounts/{group.id}/follow").status_code == 200
    follow_here(hq, fan, owner)  # follows the author, but is no member

    sent = post_picture(hq, owner, "public", f"@{name} launch pictures")
    assert sent.visibility == "private"  # a members-only group's post, whatever was asked
    handed = app(hq, member).status(sent.id).media_attachments[0].url
    assert is_picture(load(hq, handed))
    assert is_picture(load(hq, local(hq, path_of(handed)), member.token))
    assert refused(load(hq, local(hq, path_of(handed)), fan.token))
    assert refused(load(hq, local(hq, path_of(handed))))
    assert hq.api(fan, "GET", f"/api/v1/statuses/{sent.id}").status_code == 404


def test_deleting_a_post_makes_its_files_404_at_once(net: Network) -> None:
    hq = net["hq"]
    author, fan = hq.create_user("author"), hq.create_user("fan")
    follow_here(hq, fan, author)
    public = post_picture(hq, author, "public")
    secret = post_picture(hq, author, "private")
    public_url = public.media_attachments[0].url
    handed = app(hq, fan).status(secret.id).media_attachments[0].url

    opened = load(hq, public_url)
    assert is_picture(opened)
    assert opened.headers["cache-control"].startswith("public")
    assert "?" not in public_url  # public files need no signature and stay cacheable
    assert is_picture(load(hq, handed))

    for sent in (public, secret):
        assert hq.api(author, "DELETE", f"/api/v1/statuses/{sent.id}").status_code == 200
    assert refused(load(hq, public_url))
    assert refused(load(hq, handed))
    assert refused(load(hq, local(hq, path_of(handed)), fan.token))


def test_unattached_uploads_are_their_owners_alone(net: Network) -> None:
    hq = net["hq"]
    owner, other = hq.create_user("owner"), hq.create_user("other")
    media = app(hq, owner).media_post(png(), mime_type="image/png")
    assert is_picture(load(hq, media.url))  # apps show the upload before posting
    assert is_picture(load(hq, local(hq, path_of(media.url)), owner.token))
    assert refused(load(hq, local(hq, path_of(media.url)), other.token))
    assert refused(load(hq, local(hq, path_of(media.url))))
