"""Build the one Settings object from the environment and an optional flurfunk.toml."""

from __future__ import annotations

import os
import re
import secrets
import ssl
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from federation.allowlist import PatternError, parse_pattern
from models.settings import Settings
from outbox.filetypes import KNOWN_TYPES

PREFIX = "FLURFUNK_"
KEYS = {
    "PUBLIC_URL": "public_url",
    "DATA_DIR": "data_dir",
    "DATABASE_URL": "database_url",
    "REDIS_URL": "redis_url",
    "ALLOWLIST": "allowlist",
    "PUSH_HOSTS": "push_hosts",
    "PREVIEW_HOSTS": "preview_hosts",
    "CONNECT_TO": "connect_to",
    "CA_BUNDLE": "ca_bundle",
    "TLS_CLIENT_CERT": "tls_client_cert",
    "TLS_CLIENT_KEY": "tls_client_key",
    "TLS_REQUIRE_CLIENT_CERT": "tls_require_client_cert",
    "SECRET_KEY": "secret_key",
    "MAX_STATUS_CHARS": "max_status_chars",
    "MEDIA_TYPES": "media_types",
    "MEDIA_MAX_BYTES_IMAGE": "media_max_bytes_image",
    "MEDIA_MAX_BYTES_VIDEO": "media_max_bytes_video",
    "MEDIA_MAX_BYTES_DOCUMENT": "media_max_bytes_document",
    "MEDIA_QUOTA_BYTES": "media_quota_bytes",
    "MEDIA_MAX_PIXELS": "media_max_pixels",
    "RATE_LIMIT_REQUESTS": "rate_limit_requests",
    "RATE_LIMIT_WINDOW": "rate_limit_window",
    "REGISTRATIONS_OPEN": "registrations_open",
    "DB_POOL_SIZE": "db_pool_size",
    "DB_POOL_OVERFLOW": "db_pool_overflow",
    "WORKER_POLL_MS": "worker_poll_ms",
    "WORKER_READ_LIMIT": "worker_read_limit",
    "WORKER_MAX_JOBS": "worker_max_jobs",
    "WORKER_SWEEP_SECONDS": "worker_sweep_seconds",
    "CLAIM_LEASE_SECONDS": "claim_lease_seconds",
    "LOG_FORMAT": "log_format",
    "METRICS_LISTEN": "metrics_listen",
    "WORKER_METRICS_LISTEN": "worker_metrics_listen",
    "METRICS_TOKEN": "metrics_token",
    "TRUSTED_PROXIES": "trusted_proxies",
    "STREAMING_HEARTBEAT": "streaming_heartbeat",
    "TRENDS_INTERVAL": "trends_interval",
    "TRENDS_REVIEW": "trends_review",
    "MEDIA_URL_TTL": "media_url_ttl",
    "OIDC_ISSUER": "oidc_issuer",
    "OIDC_CLIENT_ID": "oidc_client_id",
    "OIDC_CLIENT_SECRET": "oidc_client_secret",
    "OIDC_USERNAME_CLAIM": "oidc_username_claim",
    "OIDC_GROUPS_CLAIM": "oidc_groups_claim",
    "OIDC_ROLE_MAP": "oidc_role_map",
    "OIDC_ONLY": "oidc_only",
    "SCIM_ROLE_MAP": "scim_role_map",
    "OIDC_GROUP_MAP": "oidc_group_map",
    "SCIM_GROUP_MAP": "scim_group_map",
    "MEDIA_S3_ENDPOINT": "media_s3_endpoint",
    "MEDIA_S3_BUCKET": "media_s3_bucket",
    "MEDIA_S3_REGION": "media_s3_region",
    "MEDIA_S3_ACCESS_KEY": "media_s3_access_key",
    "MEDIA_S3_SECRET_KEY": "media_s3_secret_key",
}


DEFAULT_ROLE_MAP = "admins=admin,moderators=moderator"


class ConfigError(ValueError):
    """A setting that cannot be used; the message names the key."""


def _split(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [part.strip() for part in str(value).split(",") if part.strip()]


def _connect_to(value: Any) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in _split(value):
        host, sep, target = item.partition("=")
        if not sep or not host or not target:
            raise ConfigError(f"CONNECT_TO: expected host[:port]=ip:port, got {item!r}")
        pairs.append((host.strip().lower(), target.strip()))
    return tuple(pairs)


def _patterns(key: str, value: Any) -> tuple[str, ...]:
    patterns = tuple(p.lower() for p in _split(value))
    for pattern in patterns:
        try:
            parse_pattern(pattern)
        except PatternError as exc:
            raise ConfigError(f"{key}: {exc}") from None
    return patterns


def _language(value: Any) -> str:
    code = str(value).strip().lower()
    if not re.fullmatch(r"[a-z]{2,3}", code):
        raise ConfigError(
            f"DEFAULT_LANGUAGE: expected an ISO 639 code such as de or en, got {value!r}"
        )
    return code


def _bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{key}: expected true or false, got {value!r}")


def _int(key: str, value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key}: expected a whole number, got {value!r}") from None
    if number <= 0:
        raise ConfigError(f"{key}: must be positive, got {number}")
    return number


def _choice(key: str, value: Any, choices: tuple[str, ...]) -> str:
    text = str(value).strip().lower()
    if text not in choices:
        raise ConfigError(f"{key}: expected one of {', '.join(choices)}, got {value!r}")
    return text


def _listen(key: str, value: Any) -> str:
    """host:port to listen on, or "" for off."""
    text = str(value or "").strip()
    if not text:
        return ""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{key}: expected host:port, got {value!r}")
    return text


def _client_cert(raw: Mapping[str, Any]) -> tuple[str, str]:
    """TLS_CLIENT_CERT and TLS_CLIENT_KEY, both or neither, loaded once here so that a wrong
    file stops the start instead of failing every delivery later."""
    cert = str(raw.get("TLS_CLIENT_CERT", "")).strip()
    key = str(raw.get("TLS_CLIENT_KEY", "")).strip()
    if not cert and not key:
        return "", ""
    if not cert or not key:
        given, missing = (
            ("TLS_CLIENT_CERT", "TLS_CLIENT_KEY") if cert else ("TLS_CLIENT_KEY", "TLS_CLIENT_CERT")
        )
        raise ConfigError(f"{given} is set but {missing} is not: a client certificate needs both")
    for name, path in (("TLS_CLIENT_CERT", cert), ("TLS_CLIENT_KEY", key)):
        if not Path(path).is_file():
            raise ConfigError(f"{name}: no readable file at {path!r}")

    def passphrase() -> bytes:
        # Without this callback OpenSSL would prompt on the terminal of a service.
        raise ConfigError(
            f"TLS_CLIENT_KEY: {key!r} is encrypted; give the key without a passphrase"
        )

    try:
        ssl.create_default_context().load_cert_chain(cert, key, password=passphrase)
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(
            f"TLS_CLIENT_CERT/TLS_CLIENT_KEY: cannot use {cert!r} with {key!r} as a PEM "
            f"certificate chain and its private key ({exc.strerror or exc})"
        ) from None
    return cert, key


def _role_map(key: str, value: Any) -> tuple[tuple[str, str], ...]:
    """`group=role,…` in priority order: which directory or provider groups give which role
    (the role itself is checked when used: a custom role may be made after the node started).
    A group name may hold "=" (LDAP names); the role is what follows the last one."""
    pairs = []
    for item in _split(value):
        group, sep, role = item.rpartition("=")
        group, role = group.strip(), role.strip()
        if not sep or not group or not re.fullmatch(r"[a-z][a-z0-9_-]{0,15}", role):
            raise ConfigError(f"{key}: expected group=role, got {item!r}")
        if role == "owner":
            raise ConfigError(f"{key}: the owner role is never given by a directory")
        pairs.append((group, role))
    return tuple(pairs)


def _group_map(key: str, value: Any) -> tuple[tuple[str, str], ...]:
    """`directorygroup=flurfunkgroup,…`: whose members belong to which group of this node (the
    group itself is looked up when used: it may be created after the node started). A
    directory group name may hold "=" (LDAP names); the Flurfunk group is after the last one."""
    pairs = []
    for item in _split(value):
        group, sep, name = item.rpartition("=")
        group, name = group.strip(), name.strip()
        valid = re.fullmatch(r"[A-Za-z0-9_]([A-Za-z0-9_.-]{0,28}[A-Za-z0-9_])?", name)
        if not sep or not group or not valid:
            raise ConfigError(f"{key}: expected directorygroup=flurfunkgroup, got {item!r}")
        pairs.append((group, name))
    return tuple(pairs)


def _oidc(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The sign-on settings; with an issuer, a client id is required too."""
    issuer = str(raw.get("OIDC_ISSUER", "")).strip()  # compared exactly, slash and all
    client_id = str(raw.get("OIDC_CLIENT_ID", "")).strip()
    only = _bool("OIDC_ONLY", raw.get("OIDC_ONLY", False))
    if issuer:
        parts = urlsplit(issuer)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
            raise ConfigError(f"OIDC_ISSUER: expected https://host[:port][/path], got {issuer!r}")
        if not client_id:
            raise ConfigError("OIDC_ISSUER is set but OIDC_CLIENT_ID is not")
    elif only:
        raise ConfigError("OIDC_ONLY=true needs OIDC_ISSUER: nobody could sign in otherwise")
    claims = {}
    for key in ("OIDC_USERNAME_CLAIM", "OIDC_GROUPS_CLAIM"):
        claim = str(raw.get(key, getattr(Settings, KEYS[key]))).strip()
        if not claim:
            raise ConfigError(f"{key}: must name a claim")
        claims[KEYS[key]] = claim
    return {
        "oidc_issuer": issuer,
        "oidc_client_id": client_id,
        "oidc_client_secret": str(raw.get("OIDC_CLIENT_SECRET", "")).strip(),
        "oidc_role_map": _role_map("OIDC_ROLE_MAP", raw.get("OIDC_ROLE_MAP", DEFAULT_ROLE_MAP)),
        "oidc_group_map": _group_map("OIDC_GROUP_MAP", raw.get("OIDC_GROUP_MAP", "")),
        "oidc_only": only,
        **claims,
    }


S3_KEYS = ("MEDIA_S3_ENDPOINT", "MEDIA_S3_BUCKET", "MEDIA_S3_ACCESS_KEY", "MEDIA_S3_SECRET_KEY")


def _media_s3(raw: Mapping[str, Any]) -> dict[str, Any]:
    """S3 storage for media: all four of endpoint, bucket and both keys, or none of them (the
    region is optional). Without explicit keys botocore would go looking for credentials,
    an instance metadata service included: connections go to the endpoint and nowhere else."""
    values = {key: str(raw.get(key, "")).strip() for key in (*S3_KEYS, "MEDIA_S3_REGION")}
    given = [key for key in S3_KEYS if values[key]]
    if not given and not values["MEDIA_S3_REGION"]:
        return {}
    missing = [PREFIX + key for key in S3_KEYS if not values[key]]
    if missing:
        raise ConfigError(
            f"S3 media storage is half-configured: {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not set (it needs "
            f"{', '.join(PREFIX + key for key in S3_KEYS)}; set all of them, or none "
            "to keep media under DATA_DIR)"
        )
    endpoint = values["MEDIA_S3_ENDPOINT"].rstrip("/")
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
        raise ConfigError(
            f"MEDIA_S3_ENDPOINT: expected http(s)://host[:port] of the S3 service, got {endpoint!r}"
        )
    return {KEYS[key]: values[key] for key in values} | {"media_s3_endpoint": endpoint}


def _media(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Upload limits; MEDIA_TYPES may name only types the node can recognise from content."""
    types = tuple(t.lower() for t in _split(raw.get("MEDIA_TYPES", "")))
    unknown = [t for t in types if t not in KNOWN_TYPES]
    if unknown:
        raise ConfigError(
            f"MEDIA_TYPES: {', '.join(unknown)} cannot be recognised from content; "
            f"known: {', '.join(sorted(KNOWN_TYPES))}"
        )
    quota = raw.get("MEDIA_QUOTA_BYTES", 0)
    no_quota = str(quota).strip() in ("", "0")
    return {
        "media_types": types,
        "media_max_bytes_image": _number(raw, "MEDIA_MAX_BYTES_IMAGE"),
        "media_max_bytes_video": _number(raw, "MEDIA_MAX_BYTES_VIDEO"),
        "media_max_bytes_document": _number(raw, "MEDIA_MAX_BYTES_DOCUMENT"),
        "media_quota_bytes": 0 if no_quota else _int("MEDIA_QUOTA_BYTES", quota),
        "media_max_pixels": _number(raw, "MEDIA_MAX_PIXELS"),
    }


def _number(raw: Mapping[str, Any], key: str) -> int:
    """A positive whole-number setting; its default is that of the Settings field."""
    default: int = getattr(Settings, KEYS[key])
    return _int(key, raw.get(key, default))


def _read_toml(path: Path) -> dict[str, Any]:
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    return {str(k).upper(): v for k, v in data.items()}


def _secret_key(data_dir: Path) -> str:
    """The node's signing secret, generated into DATA_DIR on first start."""
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


def _raw(env: Mapping[str, str]) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    toml_path = Path(env.get(PREFIX + "CONFIG", "flurfunk.toml"))
    if toml_path.is_file():
        raw.update(_read_toml(toml_path))
    for key in KEYS:
        if PREFIX + key in env:
            raw[key] = env[PREFIX + key]
    return raw


SERVED_URL = "served_url"  # in DATA_DIR: where `serve` listened, when PUBLIC_URL is not set


def served_url(data_dir: Path) -> str:
    """The address `serve` took from --host/--port without PUBLIC_URL (see web.cli): the CLI
    builds the same ids and handles as the running node."""
    path = data_dir / SERVED_URL
    return path.read_text().strip() if path.is_file() else ""


def remember_served_url(data_dir: Path, url: str) -> None:
    (data_dir / SERVED_URL).write_text(url + "\n")


def public_url_given(environ: Mapping[str, str] | None = None) -> bool:
    """Whether PUBLIC_URL was set (environment or flurfunk.toml), not left to its default."""
    return "PUBLIC_URL" in _raw(os.environ if environ is None else environ)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    raw = _raw(os.environ if environ is None else environ)

    data_dir = Path(str(raw.get("DATA_DIR", Settings.data_dir))).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "media").mkdir(exist_ok=True)
    public_url = str(raw.get("PUBLIC_URL") or served_url(data_dir) or Settings.public_url).rstrip(
        "/"
    )
    parts = urlsplit(public_url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
        raise ConfigError(f"PUBLIC_URL: expected scheme://host[:port], got {public_url!r}")

    client_cert, client_key = _client_cert(raw)
    return Settings(
        public_url=public_url,
        data_dir=data_dir,
        database_url=str(raw.get("DATABASE_URL", ""))
        or f"sqlite+aiosqlite:///{data_dir / 'flurfunk.db'}",
        redis_url=str(raw.get("REDIS_URL", "")),
        allowlist=tuple(p.lower() for p in _split(raw.get("ALLOWLIST", ""))),
        push_hosts=_patterns("PUSH_HOSTS", raw.get("PUSH_HOSTS", "")),
        preview_hosts=_patterns("PREVIEW_HOSTS", raw.get("PREVIEW_HOSTS", "")),
        connect_to=_connect_to(raw.get("CONNECT_TO", "")),
        ca_bundle=str(raw.get("CA_BUNDLE", "")),
        tls_client_cert=client_cert,
        tls_client_key=client_key,
        tls_require_client_cert=_bool(
            "TLS_REQUIRE_CLIENT_CERT", raw.get("TLS_REQUIRE_CLIENT_CERT", False)
        ),
        secret_key=str(raw.get("SECRET_KEY", "")) or _secret_key(data_dir),
        default_language=_language(raw.get("DEFAULT_LANGUAGE", Settings.default_language)),
        max_status_chars=_int("MAX_STATUS_CHARS", raw.get("MAX_STATUS_CHARS", 5000)),
        **_media(raw),
        rate_limit_requests=_int(
            "RATE_LIMIT_REQUESTS", raw.get("RATE_LIMIT_REQUESTS", Settings.rate_limit_requests)
        ),
        rate_limit_window=_int(
            "RATE_LIMIT_WINDOW", raw.get("RATE_LIMIT_WINDOW", Settings.rate_limit_window)
        ),
        registrations_open=_bool("REGISTRATIONS_OPEN", raw.get("REGISTRATIONS_OPEN", False)),
        db_pool_size=_number(raw, "DB_POOL_SIZE"),
        db_pool_overflow=_number(raw, "DB_POOL_OVERFLOW"),
        worker_poll_ms=_number(raw, "WORKER_POLL_MS"),
        worker_read_limit=_number(raw, "WORKER_READ_LIMIT"),
        worker_max_jobs=_number(raw, "WORKER_MAX_JOBS"),
        worker_sweep_seconds=_number(raw, "WORKER_SWEEP_SECONDS"),
        claim_lease_seconds=_number(raw, "CLAIM_LEASE_SECONDS"),
        log_format=_choice("LOG_FORMAT", raw.get("LOG_FORMAT", "auto"), ("auto", "json", "text")),
        metrics_listen=_listen("METRICS_LISTEN", raw.get("METRICS_LISTEN")),
        worker_metrics_listen=_listen("WORKER_METRICS_LISTEN", raw.get("WORKER_METRICS_LISTEN")),
        metrics_token=str(raw.get("METRICS_TOKEN", "")).strip(),
        trusted_proxies=",".join(_split(raw.get("TRUSTED_PROXIES", Settings.trusted_proxies))),
        streaming_heartbeat=_number(raw, "STREAMING_HEARTBEAT"),
        trends_interval=_number(raw, "TRENDS_INTERVAL"),
        trends_review=_bool("TRENDS_REVIEW", raw.get("TRENDS_REVIEW", False)),
        media_url_ttl=_number(raw, "MEDIA_URL_TTL"),
        **_oidc(raw),
        scim_role_map=_role_map("SCIM_ROLE_MAP", raw.get("SCIM_ROLE_MAP", DEFAULT_ROLE_MAP)),
        scim_group_map=_group_map("SCIM_GROUP_MAP", raw.get("SCIM_GROUP_MAP", "")),
        **_media_s3(raw),
    )
