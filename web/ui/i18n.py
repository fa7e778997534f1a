"""The words on the node's own pages, in English and German, chosen by Accept-Language."""

from __future__ import annotations

from collections.abc import Callable

LANGUAGES = ("en", "de")
DEFAULT_LANGUAGE = "en"

MESSAGES: dict[str, tuple[str, str]] = {
    # key: (English, German)
    "welcome": ("Welcome to {domain}", "Willkommen bei {domain}"),
    "tagline": (
        "The company microblog. Use any Mastodon app to read and post.",
        "Der Firmen-Mikroblog. Lesen und schreiben mit jeder Mastodon-App.",
    ),
    "sign_in": ("Sign in", "Anmelden"),
    "sign_out": ("Sign out", "Abmelden"),
    "signed_in_as": ("Signed in as", "Angemeldet als"),
    "login": ("E-mail address or user name", "E-Mail-Adresse oder Benutzername"),
    "password": ("Password", "Passwort"),
    "wrong_login": (
        "The e-mail address, user name or password is wrong.",
        "E-Mail-Adresse, Benutzername oder Passwort ist falsch.",
    ),
    "too_many_sign_ins": (
        "Too many failed sign-ins. Please try again in {minutes} minute(s).",
        "Zu viele fehlgeschlagene Anmeldungen. Bitte versuchen Sie es in {minutes} Minute(n) "
        "noch einmal.",
    ),
    "session_expired": (
        "Your session has expired. Please try again.",
        "Ihre Sitzung ist abgelaufen. Bitte versuchen Sie es noch einmal.",
    ),
    "authorize_title": ("Authorize {app}?", "{app} autorisieren?"),
    "authorize_intro": (
        "{app} wants to use your account @{user} with these permissions:",
        "{app} möchte Ihr Konto @{user} mit diesen Berechtigungen verwenden:",
    ),
    "authorize": ("Authorize", "Autorisieren"),
    "deny": ("Deny", "Ablehnen"),
    "not_you": ("Not you?", "Nicht Sie?"),
    "code_title": ("Your authorization code", "Ihr Autorisierungscode"),
    "code_intro": (
        "Copy this code and paste it into {app}:",
        "Kopieren Sie diesen Code und fügen Sie ihn in {app} ein:",
    ),
    "code_lifetime": ("The code is valid for 10 minutes.", "Der Code ist 10 Minuten gültig."),
    "denied": (
        "You did not allow {app} to use your account.",
        "Sie haben {app} die Verwendung Ihres Kontos nicht erlaubt.",
    ),
    "error_title": ("This request cannot be completed", "Diese Anfrage ist nicht möglich"),
    "back_home": ("Back to the start page", "Zurück zur Startseite"),
    # OAuth scopes, as the consent page lists them
    "scope_read": ("Read all your account's data", "Alle Daten Ihres Kontos lesen"),
    "scope_write": ("Change all your account's data", "Alle Daten Ihres Kontos ändern"),
    "scope_follow": (
        "Manage follows, blocks and mutes",
        "Gefolgte, blockierte und stummgeschaltete Konten verwalten",
    ),
    "scope_push": ("Receive push notifications", "Push-Benachrichtigungen empfangen"),
    "scope_profile": (
        "Read only your profile information",
        "Nur Ihre Profilinformationen lesen",
    ),
    "scope_admin:read": ("Read all data on the node", "Alle Daten des Knotens lesen"),
    "scope_admin:write": (
        "Moderate and change all data on the node",
        "Alle Daten des Knotens moderieren und ändern",
    ),
    "scope_read_part": ("Read: {what}", "Lesen: {what}"),
    "scope_write_part": ("Change: {what}", "Ändern: {what}"),
}

Translate = Callable[..., str]


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
    """`preferred` (an explicit `lang` parameter) wins; then the browser's ranked list."""
    if preferred and preferred.lower().split("-")[0] in LANGUAGES:
        return preferred.lower().split("-")[0]
    for _, _, primary in _weights(accept_language):
        if primary in LANGUAGES:
            return primary
    return DEFAULT_LANGUAGE


def translator(language: str) -> Translate:
    index = LANGUAGES.index(language) if language in LANGUAGES else 0

    def translate(key: str, **values: str) -> str:
        text = MESSAGES[key][index]
        return text.format(**values) if values else text

    return translate


def describe_scope(scope: str, t: Translate) -> str:
    if f"scope_{scope}" in MESSAGES:
        return t(f"scope_{scope}")
    mode, _, what = scope.partition(":")
    if mode in ("read", "write") and what:
        return t(f"scope_{mode}_part", what=what)
    return scope
