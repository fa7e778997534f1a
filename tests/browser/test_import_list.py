"""The CSV imports on /settings/data count their rows in the right form: "1 row" and
"2 rows" in English, "1 Zeile" and "2 Zeilen" in German, in the notice after the upload and
in the list of imports."""

from __future__ import annotations

import time

from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import Site
from tests.browser.kit import new_context, sign_in
from tests.kit import User

DONE_WITHIN_S = 30


def import_blocks(page: Page, site: Site, names: list[str]) -> None:
    page.goto(site.node.url + "/settings/data")
    page.locator("#import-kind").select_option("blocks")
    csv = "".join(f"{name}\n" for name in names).encode()
    page.locator("#import-file").set_input_files(
        files=[{"name": "blocked_accounts.csv", "mimeType": "text/csv", "buffer": csv}]
    )
    page.locator("form[action='/settings/data/import'] button[type=submit]").click()


def newest_import_when_done(page: Page) -> str:
    """The newest import's line, once the background job has applied it."""
    deadline = time.monotonic() + DONE_WITHIN_S
    newest = page.locator("#imports li").first
    while "import-done" not in (newest.get_attribute("class") or ""):
        assert time.monotonic() < deadline, "the import was not done in time"
        time.sleep(0.3)
        page.reload()
    return " ".join(newest.inner_text().split())


def test_the_import_list_counts_rows_in_english_and_german(
    browser: Browser, site: Site, alice: User
) -> None:
    blocked = [site.node.create_user(f"csvrow{n}").name for n in range(4)]
    with new_context(browser) as context:
        page = context.new_page()
        sign_in(page, site.node, alice)
        import_blocks(page, site, blocked[:1])
        expect(page.locator("p.notice[role=status]")).to_have_text("Import started: 1 row.")
        assert newest_import_when_done(page).endswith("done. Imported 1 of 1 row.")
        import_blocks(page, site, blocked[1:3])
        expect(page.locator("p.notice[role=status]")).to_have_text("Import started: 2 rows.")
        assert newest_import_when_done(page).endswith("done. Imported 2 of 2 rows.")
        expect(page.locator("#imports")).not_to_contain_text("1 rows")

    with new_context(browser, language="de-DE") as context:
        page = context.new_page()
        sign_in(page, site.node, alice, button="Anmelden")
        import_blocks(page, site, blocked[3:])
        expect(page.locator("p.notice[role=status]")).to_have_text("Import gestartet: 1 Zeile.")
        assert newest_import_when_done(page).endswith("fertig. 1 von 1 Zeile importiert.")
        lines = page.locator("#imports li")
        expect(lines.nth(1)).to_contain_text("fertig. 2 von 2 Zeilen importiert.")
        expect(lines.nth(2)).to_contain_text("fertig. 1 von 1 Zeile importiert.")
        expect(page.locator("#imports")).not_to_contain_text("1 Zeilen")
