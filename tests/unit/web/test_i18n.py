"""The web app's words: German for every English message, and the browser's choice."""

from __future__ import annotations

from pathlib import Path

from babel.messages.pofile import read_po

from web.ui.i18n import LOCALE_DIR, choose_language, describe_scope, translator

TEMPLATE = LOCALE_DIR / "messages.pot"


def _catalogue(path: Path, locale: str | None = None) -> dict[str, str]:
    with path.open("rb") as po:
        return {str(m.id): str(m.string) for m in read_po(po, locale=locale) if m.id}


def test_every_message_has_a_german_translation_with_the_same_placeholders() -> None:
    english = _catalogue(TEMPLATE)
    german = _catalogue(LOCALE_DIR / "de" / "LC_MESSAGES" / "messages.po", "de")
    assert set(english) <= set(german)
    for message in english:
        assert german[message], f"no German for {message!r}"
        for placeholder in ("%(app)s", "%(count)s", "%(name)s", "%(reason)s", "%(user)s"):
            assert (placeholder in message) == (placeholder in german[message]), message


def test_pages_speak_the_language_asked_for() -> None:
    assert translator("de")("Sign out") == "Abmelden"
    assert translator("de")("Post by %(name)s", name="Ada") == "Beitrag von Ada"
    assert translator("en")("Sign out") == "Sign out"
    assert translator("fr")("Sign out") == "Sign out"
    assert describe_scope("read:statuses", translator("de")) == "Lesen: statuses"


def test_the_browser_ranking_decides_unless_a_language_was_chosen() -> None:
    assert choose_language("fr-FR, de;q=0.8, en;q=0.5") == "de"
    assert choose_language("en-GB, de;q=0.9") == "en"
    assert choose_language("es, it") == "en"
    assert choose_language("de-DE", preferred="en") == "en"
    assert choose_language("", preferred="de-AT") == "de"
