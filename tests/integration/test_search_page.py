"""The search page finds posts with the same code as the API: stemmed words, operators, and a
misspelt operator's reason shown on the page."""

from __future__ import annotations

import secrets

from tests.integration.test_web_pages import signed_in
from tests.kit import RunningNode, User


def test_the_search_page_finds_posts_by_their_words(
    node: RunningNode, alice: User, bob: User
) -> None:
    word = "zq" + secrets.token_hex(4)
    node.api(
        bob, "POST", "/api/v1/statuses", data={"status": f"Neue Berichte {word}", "language": "de"}
    ).raise_for_status()
    with signed_in(node, alice) as browser:
        page = browser.get("/search", params={"q": f"Bericht {word} from:{bob.name}"})
        assert page.status_code == 200
        assert f"Neue Berichte {word}" in page.text
        refused = browser.get("/search", params={"q": f"{word} before:gestern"})
        assert refused.status_code == 200
        assert "before: takes a day as YYYY-MM-DD" in refused.text
        assert f"Neue Berichte {word}" not in refused.text
