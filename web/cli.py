"""The `flurfunk` command line; every sub-command reads the same settings."""

from __future__ import annotations

import argparse
import asyncio
import os
import ssl
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

from federation.allowlist import PatternError
from models import admin
from models import allowlist as stored_allowlist
from models.base import utcnow
from models.db import Database
from models.settings import Settings
from outbox.accounts import count_local_accounts, create_local_account, random_password
from outbox.allowlist import allow, disallow, normalise
from web import delivery_report, demo
from web.auth import cli_app, find_user, hash_password, issue_token, parse_scopes, unknown_scopes
from web.cli_admin import CommandError, add_node_commands, add_user_commands, operator
from web.cli_announce import add_announce_command
from web.cli_compliance import add_compliance_commands
from web.cli_emoji import add_emoji_commands
from web.cli_groups import add_group_commands
from web.cli_policy import add_policy_commands
from web.cli_retention import add_retention_commands
from web.cli_roles import add_role_commands
from web.cli_scim import add_scim_commands
from web.config import (
    ConfigError,
    load_settings,
    public_url_given,
    remember_served_url,
    served_url,
)


async def _first_start(settings: Settings) -> str | None:
    """Seed the allowlist once; with no accounts, create `admin` and return the line to print."""
    db = Database(settings.database_url, default_language=settings.default_language)
    try:
        async with db.write() as session:
            await stored_allowlist.seed(session, [normalise(p) for p in settings.allowlist])
            if await count_local_accounts(session):
                return None
            password = random_password()
            await create_local_account(
                session,
                settings,
                username="admin",
                password_hash=hash_password(password),
                role="admin",
            )
            return f"Admin account: admin  password: {password}"
    finally:
        await db.dispose()


def cmd_serve(args: argparse.Namespace, settings: Settings) -> None:
    import uvicorn

    from web.logging import logging_config
    from web.metrics import shared_between_processes

    _check_processes(args.workers, settings)
    client_certs = _client_cert_requirement(args, settings)
    settings = _public_url_for(args, settings)
    _prepare_schema(settings)
    line = asyncio.run(_first_start(settings))
    if line:
        print(line, flush=True)
    with shared_between_processes(args.workers):
        uvicorn.run(
            "web.app:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            # uvicorn kills a web process that does not answer its health ping in time (5 s by
            # default) and starts another: on a busy machine, where starting one takes longer,
            # that loop never ends and the node never comes up.
            timeout_worker_healthcheck=60,
            proxy_headers=True,
            forwarded_allow_ips=settings.trusted_proxies,
            log_level=args.log_level,
            # Applied by uvicorn in every web process it starts.
            log_config=logging_config(settings.log_format, args.log_level),
            access_log=False,  # web.logging writes the access line, with the request id
            lifespan="on",
            ssl_keyfile=args.ssl_keyfile,
            ssl_certfile=args.ssl_certfile,
            **client_certs,
        )


def _client_cert_requirement(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    """uvicorn's options for TLS_REQUIRE_CLIENT_CERT: the handshake itself refuses a client
    without a certificate from CA_BUNDLE, so such a peer never reaches a route (no inbox
    row, no request log line)."""
    if not settings.tls_require_client_cert:
        return {}
    if not (args.ssl_certfile and args.ssl_keyfile):
        raise ConfigError(
            "TLS_REQUIRE_CLIENT_CERT: the node must serve TLS itself to ask for client "
            "certificates; give serve --ssl-certfile and --ssl-keyfile"
        )
    if not settings.ca_bundle:
        raise ConfigError(
            "TLS_REQUIRE_CLIENT_CERT: set CA_BUNDLE to the CA that client certificates must "
            "chain to"
        )
    try:
        ssl.create_default_context(cafile=settings.ca_bundle)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"CA_BUNDLE: cannot read {settings.ca_bundle!r} as PEM CA certificates "
            f"({exc.strerror or exc})"
        ) from None
    return {"ssl_cert_reqs": ssl.CERT_REQUIRED, "ssl_ca_certs": settings.ca_bundle}


def _public_url_for(args: argparse.Namespace, settings: Settings) -> Settings:
    """Without PUBLIC_URL set, the node is where `serve` listens: ids, handles and links then
    name that port (they named port 8000 whatever --port said). Kept in DATA_DIR for the
    other commands, and set in the environment for the web processes uvicorn starts."""
    if public_url_given():
        return settings
    scheme = "https" if args.ssl_certfile else "http"
    host = args.host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
        _warn(
            f"FLURFUNK_PUBLIC_URL is not set and --host {args.host} says nothing about the "
            f"name others reach this node by: ids and links use {scheme}://{host}:{args.port}"
        )
    elif ":" in host:
        host = f"[{host}]"
    url = f"{scheme}://{host}:{args.port}"
    before = served_url(settings.data_dir)
    if before and before != url:
        _warn(
            f"this node was served as {before} before and is now {url}: other nodes and apps "
            f"know it by the old address; set FLURFUNK_PUBLIC_URL={before} to keep it"
        )
    remember_served_url(settings.data_dir, url)
    os.environ["FLURFUNK_PUBLIC_URL"] = url
    return load_settings()


def _warn(message: str) -> None:
    print(f"flurfunk: warning: {message}", file=sys.stderr, flush=True)


def _migrate(settings: Settings) -> None:
    # Imported here: Alembic and Mako cost ~180 ms of start-up that other commands never need.
    from models.migrate import upgrade

    upgrade(settings.database_url, settings.default_language)


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> None:
    _migrate(settings)
    print("database is up to date")


def _check_processes(workers: int, settings: Settings) -> None:
    """Several web processes share nothing but PostgreSQL and Redis."""
    if workers < 1:
        raise CommandError("--workers must be at least 1")
    if workers > 1 and settings.is_sqlite:
        raise CommandError(
            "--workers above 1 needs PostgreSQL (FLURFUNK_DATABASE_URL): SQLite takes one "
            "writer at a time, so more web processes would only wait for each other"
        )
    if workers > 1 and not settings.redis_url:
        raise CommandError(
            "--workers above 1 needs FLURFUNK_REDIS_URL: the web processes hand background "
            "work to `flurfunk worker` and share streaming events through Redis"
        )


def _prepare_schema(settings: Settings) -> None:
    """SQLite (embedded) is migrated here; PostgreSQL only by `flurfunk migrate`, run once
    before new processes roll out — a process refuses a schema older than its code."""
    from models.migrate import schema_problem

    async def check() -> str | None:
        db = Database(
            settings.database_url, pool_size=1, default_language=settings.default_language
        )
        try:
            return await schema_problem(db)
        finally:
            await db.dispose()

    problem = asyncio.run(check())
    if problem and settings.is_sqlite:
        # In a child process, so that the long-lived server never carries Alembic and Mako.
        migrated = subprocess.run(
            [sys.executable, "-m", "web.cli", "migrate"], stdout=subprocess.DEVNULL, check=False
        )
        if migrated.returncode != 0:
            raise CommandError("migrating the SQLite database failed (see above)")
    elif problem:
        raise CommandError(problem)


def cmd_worker(args: argparse.Namespace, settings: Settings) -> None:
    if not settings.redis_url:
        raise CommandError(
            "the worker needs FLURFUNK_REDIS_URL (without Redis, `flurfunk serve` does this "
            "work itself)"
        )
    _prepare_schema(settings)
    from web.worker import work

    asyncio.run(work(settings))


async def _user_token(settings: Settings, name: str, scopes: list[str]) -> str:
    db = Database(settings.database_url, default_language=settings.default_language)
    try:
        async with db.write() as session:
            found = await find_user(session, name)
            if found is None:
                raise CommandError(f"no local user {name!r}")
            app = await cli_app(session)
            token, _, _ = await issue_token(
                session, app_id=app.id, account_id=found[0].id, scopes=scopes, with_refresh=False
            )
            # A token acts as that person: who made one for whom is in the audit log.
            admin.record(
                session, operator().name, "user.token", found[0].username, " ".join(scopes)
            )
            return token
    finally:
        await db.dispose()


def cmd_user_token(args: argparse.Namespace, settings: Settings) -> None:
    scopes = parse_scopes(args.scopes)
    unknown = unknown_scopes(scopes)
    if unknown or not scopes:
        raise CommandError(f"unknown scopes: {' '.join(unknown) or '(none given)'}")
    print(asyncio.run(_user_token(settings, args.name, scopes)))


async def _allowlist(settings: Settings, action: str, pattern: str | None) -> list[str]:
    db = Database(settings.database_url, default_language=settings.default_language)
    try:
        async with db.write() as session:
            if action == "list":
                return await stored_allowlist.patterns(session) or [
                    "the allowlist is empty: this node federates with nobody "
                    "(add a pattern with `flurfunk allowlist add`)"
                ]
            assert pattern is not None
            if action == "add":
                changed = await allow(session, operator(), pattern)
                return [f"added {pattern}" if changed else f"{pattern} was already allowed"]
            changed = await disallow(session, operator(), pattern)
            if not changed:
                raise CommandError(f"{pattern} is not on the allowlist")
            return [f"removed {pattern}"]
    finally:
        await db.dispose()


def cmd_allowlist(args: argparse.Namespace, settings: Settings) -> None:
    pattern = None
    if args.allowlist_command != "list":
        try:
            pattern = normalise(args.pattern)
        except PatternError as exc:
            raise CommandError(str(exc)) from None
    for line in asyncio.run(_allowlist(settings, args.allowlist_command, pattern)):
        print(line)


async def _deliveries(settings: Settings, host: str | None, failed: bool) -> list[str]:
    db = Database(settings.database_url, default_language=settings.default_language)
    try:
        async with db.read() as session:
            if failed:
                return delivery_report.failed_rows(await delivery_report.failed(session, host))
            return delivery_report.summary(await delivery_report.per_host(session, host), utcnow())
    finally:
        await db.dispose()


def cmd_deliveries(args: argparse.Namespace, settings: Settings) -> None:
    for line in asyncio.run(_deliveries(settings, args.host, args.failed)):
        print(line)


def cmd_demo(args: argparse.Namespace, settings: Settings) -> None:
    try:
        demo.run(nodes=args.nodes, base_port=args.base_port)
    except demo.DemoError as exc:
        raise CommandError(str(exc)) from None


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="flurfunk", description="Flurfunk microblog node")
    commands = root.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the web server (and the in-process worker)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="web processes (default 1)")
    serve.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    serve.add_argument("--ssl-keyfile", help="serve HTTPS with this private key (PEM)")
    serve.add_argument("--ssl-certfile", help="and this certificate chain (PEM)")
    serve.set_defaults(func=cmd_serve)

    migrate = commands.add_parser("migrate", help="bring the database schema up to date")
    migrate.set_defaults(func=cmd_migrate)

    worker = commands.add_parser(
        "worker", help="deliveries and background jobs from Redis (arq; needs REDIS_URL)"
    )
    worker.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    worker.set_defaults(func=cmd_worker)

    user = commands.add_parser("user", help="manage local users").add_subparsers(
        dest="user_command", required=True
    )
    add_user_commands(user)
    token = user.add_parser("token", help="print a bearer token for a user")
    token.add_argument("name", help="user name or e-mail address")
    token.add_argument("--scopes", default="read write follow push")
    token.set_defaults(func=cmd_user_token)

    allow = commands.add_parser("allowlist", help="which nodes this node may federate with")
    allow_commands = allow.add_subparsers(dest="allowlist_command", required=True)
    for name, text in (("add", "allow a host pattern"), ("remove", "stop federating with it")):
        sub = allow_commands.add_parser(name, help=text)
        sub.add_argument("pattern", help="hr.corp.example, *.corp.example or host:port")
        sub.set_defaults(func=cmd_allowlist)
    allow_commands.add_parser("list", help="show the patterns").set_defaults(func=cmd_allowlist)

    deliveries = commands.add_parser(
        "deliveries", help="pending and failed deliveries per peer host"
    )
    deliveries.add_argument("--failed", action="store_true", help="list the failed deliveries")
    deliveries.add_argument("--host", help="only this peer host (host or host:port)")
    deliveries.set_defaults(func=cmd_deliveries)

    add_node_commands(commands)
    add_emoji_commands(commands)
    add_policy_commands(commands)
    add_group_commands(commands)
    add_role_commands(commands)
    add_scim_commands(commands)
    add_compliance_commands(commands)
    add_retention_commands(commands)
    add_announce_command(commands)

    demo_command = commands.add_parser("demo", help="three federating nodes with sample users")
    demo_command.add_argument("--nodes", type=int, default=3, choices=range(1, 7), metavar="N")
    demo_command.add_argument("--base-port", type=int, default=8001)
    demo_command.set_defaults(func=cmd_demo)
    return root


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    try:
        settings = load_settings()
        if args.command in ("serve", "worker"):
            from web.logging import configure_logging

            configure_logging(settings.log_format, getattr(args, "log_level", "info"))
        args.func(args, settings)
    except (CommandError, ConfigError) as exc:
        print(f"flurfunk: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
