"""The node's settings: one frozen object, built once by `web.config` and passed down."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Settings:
    public_url: str = "http://127.0.0.1:8000"
    data_dir: Path = Path("./var")
    database_url: str = ""
    redis_url: str = ""
    allowlist: tuple[str, ...] = ()
    push_hosts: tuple[str, ...] = ()  # Web Push services (allowlist patterns) phones may use
    preview_hosts: tuple[str, ...] = ()  # intranet sites link previews may fetch (patterns)
    connect_to: tuple[tuple[str, str], ...] = ()
    ca_bundle: str = ""
    # Mutual TLS: the certificate this node shows peers, and whether its own listener
    # demands one (chaining to ca_bundle) from everyone who connects.
    tls_client_cert: str = ""
    tls_client_key: str = ""
    tls_require_client_cert: bool = False
    secret_key: str = ""
    max_status_chars: int = 5000
    # Uploads (outbox.media): allowed types (empty: every type Flurfunk recognises), the
    # largest file per kind, the bytes one person may keep (0: no quota), the largest image.
    media_types: tuple[str, ...] = ()
    media_max_bytes_image: int = 16 << 20
    media_max_bytes_video: int = 100 << 20  # also audio
    media_max_bytes_document: int = 40 << 20
    media_quota_bytes: int = 0
    media_max_pixels: int = 33_177_600  # 7680 x 4320, as Mastodon
    default_language: str = "en"  # stems search over posts that name no language
    rate_limit_requests: int = 1500
    rate_limit_window: int = 300
    registrations_open: bool = False
    # Scale-out (web processes and `flurfunk worker` on PostgreSQL and Redis).
    db_pool_size: int = 10
    db_pool_overflow: int = 10
    worker_poll_ms: int = 100  # a fallback: web processes nudge the workers (web/worker.py)
    worker_read_limit: int = 50
    worker_max_jobs: int = 20
    worker_sweep_seconds: int = 2
    claim_lease_seconds: int = 120
    log_format: str = "auto"  # json, text, or auto: JSON unless stdout is a terminal
    metrics_listen: str = ""  # host:port of the serve processes' metrics listener; "" = off
    worker_metrics_listen: str = ""  # the same for `flurfunk worker`
    metrics_token: str = ""  # bearer token for /metrics on the main listener; "" = no /metrics
    # Proxies whose X-Forwarded-For/-Proto are believed (addresses, networks, or "*").
    trusted_proxies: str = "127.0.0.1,::1"
    streaming_heartbeat: int = 15  # seconds between keep-alive comments on idle SSE streams
    trends_interval: int = 300  # seconds between two computations of the node's trends
    trends_review: bool = False  # trends show only once an admin approved them
    media_url_ttl: int = 3600  # seconds a signed URL of a confidential attachment works
    # Single sign-on through the company's OpenID provider (web/oidc.py); off without an issuer.
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    oidc_username_claim: str = "preferred_username"
    oidc_groups_claim: str = "groups"
    # (provider group, Flurfunk role) in priority order: the first group a person is in wins.
    oidc_role_map: tuple[tuple[str, str], ...] = (("admins", "admin"), ("moderators", "moderator"))
    oidc_only: bool = False  # no password sign-in on the pages or the password grant
    # SCIM groups (by display name, any case) whose members get a role: (group, role) pairs.
    scim_role_map: tuple[tuple[str, str], ...] = (("admins", "admin"), ("moderators", "moderator"))
    # (directory group, name of a group of this node) whose members the map keeps in step:
    # OIDC by the groups claim at every sign-in, SCIM by display name (any case).
    oidc_group_map: tuple[tuple[str, str], ...] = ()
    scim_group_map: tuple[tuple[str, str], ...] = ()
    # Media in an S3-compatible bucket (outbox/storage.py) when endpoint and bucket are set;
    # otherwise under DATA_DIR. The operator's own storage: not a federation peer.
    media_s3_endpoint: str = ""
    media_s3_bucket: str = ""
    media_s3_region: str = ""
    media_s3_access_key: str = ""
    media_s3_secret_key: str = field(default="", repr=False)
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def domain(self) -> str:
        """host[:port] of this node: the part after the @ in handles."""
        return urlsplit(self.public_url).netloc

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def url(self, path: str) -> str:
        """An absolute URL on this node; always from PUBLIC_URL, never from a Host header."""
        return self.public_url.rstrip("/") + path

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"
