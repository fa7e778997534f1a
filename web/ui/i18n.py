"""The words on the node's own pages, from Babel catalogues (web/ui/locale/*/messages.po).

Message ids are the English text. A count with a noun goes through `plural_translator`
(gettext's ngettext; pages call it `tn`, and `make catalogues` extracts `tn` with both forms),
so a page says "1 row" and "2 rows", never "1 rows". The `.po` files are compiled in memory
the first time a language is used, so a fresh checkout or `pip install -e .` needs no compile
step, and a translator's edit shows after a restart. `make catalogues` extracts new strings
and updates the catalogues.
"""

from __future__ import annotations

import functools
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from babel.support import NullTranslations

LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = ("en", "de")
DEFAULT_LANGUAGE = "en"
LANGUAGE_NAMES = {"en": "English", "de": "Deutsch"}


class Translate(Protocol):
    def __call__(self, message: str, /, **values: Any) -> str: ...


class TranslatePlural(Protocol):
    def __call__(self, singular: str, plural: str, n: int, /, **values: Any) -> str: ...


def N_(message: str) -> str:
    """Marks a message for extraction; it is translated where it is shown."""
    return message


# OAuth scopes, as the consent page lists them.
SCOPES = {
    "read": N_("Read all your account's data"),
    "write": N_("Change all your account's data"),
    "follow": N_("Manage follows, blocks and mutes"),
    "push": N_("Receive push notifications"),
    "profile": N_("Read only your profile information"),
    "admin:read": N_("Read all data on the node"),
    "admin:write": N_("Moderate and change all data on the node"),
}


def _weights(header: str) -> list[tuple[float, int, str]]:
    ranked = []
    for position, part in enumerate(header.split(",")):
        tag, _, rest = part.strip().partition(";")
        quality = 1.0
        for param in rest.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary and quality > 0:
            ranked.append((-quality, position, primary))
    return sorted(ranked)


def choose_language(accept_language: str, preferred: str | None = None) -> str:
    """`preferred` (an explicit choice) wins; then the browser's ranked list."""
    if preferred and preferred.lower().split("-")[0] in LANGUAGES:
        return preferred.lower().split("-")[0]
    for _, _, primary in _weights(accept_language):
        if primary in LANGUAGES:
            return primary
    return DEFAULT_LANGUAGE


@functools.cache
def _catalogue(language: str) -> NullTranslations:
    # Babel is loaded with the first page, like Jinja: a node serving only apps never needs it.
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import NullTranslations, Translations

    source = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    if not source.exists():
        return NullTranslations()
    with source.open("rb") as po:
        catalogue = read_po(po, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalogue)
    compiled.seek(0)
    return Translations(compiled)


def translator(language: str) -> Translate:
    gettext = _catalogue(language if language in LANGUAGES else DEFAULT_LANGUAGE).gettext

    def translate(message: str, /, **values: Any) -> str:
        text = gettext(message)
        return text % values if values else text

    return translate


def plural_translator(language: str) -> TranslatePlural:
    """`tn("%(num)s row", "%(num)s rows", n)`: the form the language's plural rule picks for
    n; `num` is n unless given (a template for the live script passes a stand-in)."""
    ngettext = _catalogue(language if language in LANGUAGES else DEFAULT_LANGUAGE).ngettext

    def translate_plural(singular: str, plural: str, n: int, /, **values: Any) -> str:
        values.setdefault("num", n)
        return ngettext(singular, plural, n) % values

    return translate_plural


def describe_scope(scope: str, t: Translate) -> str:
    if scope in SCOPES:
        return t(SCOPES[scope])
    mode, _, what = scope.partition(":")
    if mode == "read" and what:
        return t("Read: %(what)s", what=what)
    if mode == "write" and what:
        return t("Change: %(what)s", what=what)
    return scope
