"""A followers-only post's picture in the browser: shown to a signed-in follower on the post's
page, not to an anonymous visitor who has its address."""

from __future__ import annotations

import io
from urllib.parse import urlsplit

import httpx
from PIL import Image
from playwright.sync_api import Browser, expect

from tests.browser.conftest import Site
from tests.browser.kit import new_context, screenshot, sign_in
from tests.kit import User


def test_follower_sees_the_picture_of_a_followers_only_post(
    browser: Browser, site: Site, alice: User, bob: User
) -> None:
    node = site.node
    picture = io.BytesIO()
    Image.new("RGB", (80, 60), (20, 140, 90)).save(picture, "PNG")
    uploaded = node.api(
        alice,
        "POST",
        "/api/v2/media",
        files={"file": ("plan.png", picture.getvalue(), "image/png")},
        data={"description": "The confidential floor plan"},
    )
    assert uploaded.status_code == 200, uploaded.text
    alice_id = node.api(alice, "GET", "/api/v1/accounts/verify_credentials").json()["id"]
    assert node.api(bob, "POST", f"/api/v1/accounts/{alice_id}/follow").json()["following"]
    sent = node.api(
        alice,
        "POST",
        "/api/v1/statuses",
        json={
            "status": "Floor plan for the team",
            "visibility": "private",
            "media_ids": [uploaded.json()["id"]],
        },
    ).json()

    with new_context(browser) as context:
        page = context.new_page()
        sign_in(page, node, bob)
        page.goto(f"{node.url}/@{alice.name}/{sent['id']}")
        image = page.locator("article.status.focus ul.media img")
        expect(image).to_have_attribute("alt", "The confidential floor plan")
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
        )
        screenshot(page, "followers-only-picture")
        source = image.get_attribute("src")
        assert source is not None

    # The same file without the signature the page carried: nothing for an anonymous visitor.
    bare = node.url + urlsplit(source).path
    assert httpx.get(bare, timeout=30).status_code == 404
