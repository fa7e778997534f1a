"""The web app's words: German for every English message (each plural form), counts in the
right form, and the browser's choice."""

from __future__ import annotations

from pathlib import Path

from babel.messages.pofile import read_po

from web.ui.i18n import (
    LOCALE_DIR,
    choose_language,
    describe_scope,
    plural_translator,
    translator,
)

TEMPLATE = LOCALE_DIR / "messages.pot"


PLACEHOLDERS = ("%(app)s", "%(count)s", "%(name)s", "%(num)s", "%(reason)s", "%(user)s")


def _catalogue(path: Path, locale: str | None = None) -> dict[tuple[str, ...], tuple[str, ...]]:
    """Message ids (singular and plural) to their forms; one form for a plain message."""

    def forms(text: str | tuple[str, ...]) -> tuple[str, ...]:
        return (text,) if isinstance(text, str) else tuple(text)

    with path.open("rb") as po:
        return {forms(m.id): forms(m.string) for m in read_po(po, locale=locale) if m.id}


def test_every_message_has_a_german_translation_with_the_same_placeholders() -> None:
    english = _catalogue(TEMPLATE)
    german = _catalogue(LOCALE_DIR / "de" / "LC_MESSAGES" / "messages.po", "de")
    assert set(english) <= set(german)
    for ids in english:
        assert len(german[ids]) == len(ids), f"not every form of {ids!r}"
        for message, translated in zip(ids, german[ids], strict=True):
            assert translated, f"no German for {message!r}"
            for placeholder in PLACEHOLDERS:
                # A singular may spell out "one" where the German keeps the number.
                if placeholder == "%(num)s" and placeholder not in message:
                    continue
                assert (placeholder in message) == (placeholder in translated), message


def test_a_count_takes_the_singular_only_for_one() -> None:
    rows = ("waiting to start (%(num)s row)", "waiting to start (%(num)s rows)")
    assert plural_translator("en")(*rows, 1) == "waiting to start (1 row)"
    assert plural_translator("en")(*rows, 0) == "waiting to start (0 rows)"
    assert plural_translator("de")(*rows, 1) == "wartet auf den Start (1 Zeile)"
    assert plural_translator("de")(*rows, 2) == "wartet auf den Start (2 Zeilen)"
    members = ("%(num)s member", "%(num)s members")
    assert plural_translator("de")(*members, 1) == "1 Mitglied"
    assert plural_translator("fr")(*members, 3) == "3 members"
    # The live script's stand-in for the number, and other values beside it.
    new = ("%(num)s new post", "%(num)s new posts")
    assert plural_translator("de")(*new, 2, num="{n}") == "{n} neue Beiträge"
    handled = (
        "running: %(applied)s of %(num)s row handled",
        "running: %(applied)s of %(num)s rows handled",
    )
    assert plural_translator("de")(*handled, 5, applied=3) == "läuft: 3 von 5 Zeilen bearbeitet"


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
