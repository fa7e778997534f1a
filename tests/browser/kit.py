"""The browser kit: Debian's Chromium driven by Playwright against a real node process.

Playwright never downloads a browser here: it launches the system's `chromium` binary. With
CI=true a missing Chromium fails the run; elsewhere the browser tests are skipped with the
reason. Screenshots go to var/test-artifacts/browser/ (ignored by git, kept by CI).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page, Playwright

from tests.kit import RunningNode, User, require_service

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts" / "browser"
TIMEOUT_MS = 15_000
PHONE = {"width": 390, "height": 844}


def chromium_path() -> str:
    """The system Chromium, or fail (CI) / skip (elsewhere) the test."""
    configured = os.environ.get("FLURFUNK_CHROMIUM")
    candidates = (configured,) if configured else CHROMIUM_CANDIDATES
    found = next((c for c in candidates if c and shutil.which(c)), None)
    require_service("Chromium", found is not None, f"none of {', '.join(candidates)} exists")
    assert found is not None
    return found


def launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(
        executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True
    )


def new_context(browser: Browser, language: str = "en-GB", **options: Any) -> BrowserContext:
    """A fresh browser profile that asks for `language` (Accept-Language and navigator)."""
    context = browser.new_context(
        locale=language,
        extra_http_headers={"Accept-Language": f"{language},{language.split('-')[0]};q=0.9"},
        **options,
    )
    context.set_default_timeout(TIMEOUT_MS)
    return context


def sign_in(page: Page, node: RunningNode, user: User, *, button: str = "Sign in") -> None:
    """Sign in through the form, as a person would; ends on the home timeline."""
    page.goto(node.url + "/")
    page.locator("#login").fill(user.name)
    page.locator("#password").fill(user.password)
    page.get_by_role("button", name=button).click()
    page.wait_for_url(node.url + "/")


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    target = ARTIFACTS / (re.sub(r"[^\w.-]+", "-", name) + ".png")
    page.screenshot(path=str(target), full_page=True)
    return target


def serious_violations(page: Page) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    found = results.response.get("violations", [])
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(str(n.get("target")) for n in v.get("nodes", [])[:3])
        for v in found
        if v.get("impact") in ("serious", "critical")
    ]
