"""deploy/ and the README's production section cannot rot: every file parses, every
`flurfunk` command in them is one the CLI accepts, every FLURFUNK_* setting exists and every
value they give it is one the node accepts, and the proxies let through what the node needs
(WebSocket upgrades, the largest upload, the forwarded headers).

No Docker engine, kubelet or nginx runs here: YAML is read with PyYAML, systemd units with
configparser, the Dockerfile, the Caddyfile and nginx's configuration with simple checks.
"""

from __future__ import annotations

import configparser
import json
import re
import shlex
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.deploy_files import (
    DEPLOY,
    IMAGE_ENTRYPOINT,
    ROOT,
    SETTINGS,
    STREAMING,
    accepts,
    env_file,
    route_paths,
    setting_names,
    size_in_bytes,
    valid_settings,
)
from web.api.media import MAX_UPLOAD_BODY
from web.config import KEYS


def test_every_deploy_file_is_checked_here() -> None:
    """A new file in deploy/ gets a check here or in test_deploy_kubernetes.py (and in
    CHECKED)."""
    present = {
        str(p.relative_to(DEPLOY))
        for p in DEPLOY.rglob("*")
        if p.is_file() and not OPERATORS_OWN.match(str(p.relative_to(DEPLOY)))
    }
    assert present == CHECKED


# What deploy/.gitignore keeps out of the repository: an operator's .env and certificates.
OPERATORS_OWN = re.compile(r"\.env$|certs/")


CHECKED = {
    ".gitignore",
    "Dockerfile",
    "Dockerfile.dockerignore",
    "docker-compose.yml",
    "compose.env.example",
    "Caddyfile",
    "flurfunk.env.example",
    "systemd/flurfunk-web.service",
    "systemd/flurfunk-worker.service",
    "systemd/flurfunk-migrate.service",
    "nginx/flurfunk.conf",
    "kubernetes/kustomization.yaml",
    "kubernetes/namespace.yaml",
    "kubernetes/configmap.yaml",
    "kubernetes/secret.example.yaml",
    "kubernetes/media.yaml",
    "kubernetes/migrate-job.yaml",
    "kubernetes/web.yaml",
    "kubernetes/worker.yaml",
    "kubernetes/ingress.yaml",
}


def test_settings_named_anywhere_exist() -> None:
    for path in [*DEPLOY.rglob("*"), ROOT / "README.md"]:
        if path.is_file():
            unknown = sorted(setting_names(path.read_text()) - SETTINGS)
            assert not unknown, f"{path.relative_to(ROOT)} names unknown settings: {unknown}"


# --- Dockerfile ----------------------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    text = (DEPLOY / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    return [
        (word.upper(), rest.strip())
        for word, _, rest in (line.strip().partition(" ") for line in joined.splitlines())
        if word
    ]


def test_dockerfile_builds_the_packages_and_runs_the_cli() -> None:
    instructions = dockerfile()
    entrypoint = json.loads(next(a for i, a in instructions if i == "ENTRYPOINT"))
    assert entrypoint == IMAGE_ENTRYPOINT
    command = json.loads([a for i, a in instructions if i == "CMD"][-1])
    assert accepts([*entrypoint, *command]).command == "serve"
    copied = set()
    for kind, arguments in instructions:
        if kind == "COPY" and not arguments.startswith("--from"):
            *sources, _ = arguments.split()
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
                copied.add(source)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {
        p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    assert packages <= copied, f"packages missing from the image: {packages - copied}"
    env = " ".join(a for i, a in instructions if i == "ENV")
    assert setting_names(env) <= SETTINGS
    ignored = (DEPLOY / "Dockerfile.dockerignore").read_text().split()
    assert ".venv" in ignored
    assert not packages & set(ignored)


# --- docker compose ------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    return document


def compose_example_env() -> dict[str, str]:
    return env_file(DEPLOY / "compose.env.example")


def substitute(value: str, env: Mapping[str, str]) -> str:
    """Compose's ${NAME}, ${NAME:-default} and ${NAME:?error}."""

    def one(found: re.Match[str]) -> str:
        name, op, rest = found.group(1), found.group(2) or "", found.group(3) or ""
        if name in env and (env[name] or op != ":-"):
            return env[name]
        assert op != ":?", f"{name} is required: {rest}"
        return rest if op == ":-" else ""

    return re.sub(r"\$\{([A-Z0-9_]+)(:[-?])?([^}]*)\}", one, value)


def test_compose_runs_the_node_behind_a_tls_proxy(tmp_path: Path) -> None:
    services = compose()["services"]
    assert {"postgres", "redis", "migrate", "web", "worker", "proxy"} <= set(services)
    env = compose_example_env()
    node_services = {name: s for name, s in services.items() if "build" in s}
    assert set(node_services) == {"migrate", "web", "worker"}
    commands = {
        name: accepts([*IMAGE_ENTRYPOINT, *s["command"]]) for name, s in node_services.items()
    }
    assert commands["migrate"].command == "migrate"
    assert commands["worker"].command == "worker"
    web = commands["web"]
    assert (web.command, web.host) == ("serve", "0.0.0.0")
    assert web.workers > 1
    for name in ("web", "worker"):
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
    for service in node_services.values():
        settings = {k: substitute(str(v), env) for k, v in service["environment"].items()}
        valid_settings(settings, tmp_path)
        assert settings["FLURFUNK_DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert "@postgres:5432/" in settings["FLURFUNK_DATABASE_URL"]
        assert settings["FLURFUNK_REDIS_URL"].startswith("redis://redis:6379")
        assert settings["FLURFUNK_PUBLIC_URL"] == f"https://{env['NODE_HOST']}"
    # Each node container is health-checked where it answers: web on its port, the worker on
    # its metrics listener (web.metrics answers /livez there).
    worker_metrics = services["worker"]["environment"]["FLURFUNK_WORKER_METRICS_LISTEN"]
    probes = {name: " ".join(services[name]["healthcheck"]["test"]) for name in ("web", "worker")}
    assert f"127.0.0.1:{web.port}/readyz" in probes["web"]
    assert f"127.0.0.1:{worker_metrics.rpartition(':')[2]}/livez" in probes["worker"]
    proxy = services["proxy"]
    assert proxy["image"].startswith("caddy:")
    assert "443:443" in proxy["ports"]
    mounted = [v.split(":")[0] for v in proxy["volumes"]]
    assert "./Caddyfile" in mounted
    assert (DEPLOY / "Caddyfile").is_file()


def test_caddy_passes_streams_and_large_uploads() -> None:
    text = (DEPLOY / "Caddyfile").read_text()
    code = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    assert code.count("{") == code.count("}")
    web_port = accepts([*IMAGE_ENTRYPOINT, *compose()["services"]["web"]["command"]]).port
    assert re.search(rf"^\s*reverse_proxy\s+web:{web_port}\b", code, re.M)
    assert re.search(r"^\s*tls\s+\S+\.crt\s+\S+\.key\s*$", code, re.M)
    size = re.search(r"max_size\s+(\S+)", code)
    assert size, "request_body max_size"
    assert size_in_bytes(size.group(1)) >= MAX_UPLOAD_BODY
    assert re.search(r"flush_interval\s+-1", code)  # server-sent events pass at once
    host = re.search(r"\{\$([A-Z_]+)\}\s*\{", code)
    assert host, "the site address comes from the environment"
    assert host.group(1) in compose()["services"]["proxy"]["environment"]


# --- systemd -------------------------------------------------------------------------------


def unit(name: str) -> configparser.ConfigParser:
    config = configparser.ConfigParser(interpolation=None, strict=True)
    config.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    config.read_string((DEPLOY / "systemd" / name).read_text())
    return config


@pytest.mark.parametrize(
    ("name", "command"),
    [
        ("flurfunk-web.service", "serve"),
        ("flurfunk-worker.service", "worker"),
        ("flurfunk-migrate.service", "migrate"),
    ],
)
def test_systemd_units_run_the_cli_with_the_environment_file(name: str, command: str) -> None:
    config = unit(name)
    assert {"Unit", "Service"} <= set(config.sections())
    service = config["Service"]
    assert accepts(shlex.split(service["ExecStart"])).command == command
    assert Path(service["EnvironmentFile"]).name == "flurfunk.env"
    assert service["User"] == "flurfunk"
    assert (
        service["ReadWritePaths"] == env_file(DEPLOY / "flurfunk.env.example")["FLURFUNK_DATA_DIR"]
    )
    if command == "migrate":
        assert service["Type"] == "oneshot"
    else:
        assert service["Restart"] == "on-failure"
        assert config["Install"]["WantedBy"] == "multi-user.target"


def test_systemd_environment_file_is_valid(tmp_path: Path) -> None:
    env = env_file(DEPLOY / "flurfunk.env.example")
    valid_settings(env, tmp_path)
    assert env["FLURFUNK_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert env["FLURFUNK_REDIS_URL"].startswith("redis://")
    # Web and worker share the machine: their metrics listeners must not collide.
    assert env["FLURFUNK_METRICS_LISTEN"] != env["FLURFUNK_WORKER_METRICS_LISTEN"]
    commented = setting_names((DEPLOY / "flurfunk.env.example").read_text())
    assert commented <= SETTINGS


def test_web_unit_serves_several_processes_behind_nginx() -> None:
    web = accepts(shlex.split(unit("flurfunk-web.service")["Service"]["ExecStart"]))
    assert web.host == "127.0.0.1"
    assert web.workers > 1
    upstream = re.search(r"upstream\s+\w+\s*\{[^}]*server\s+([\d.]+):(\d+)", nginx())
    assert upstream, "an upstream with one server"
    assert (upstream.group(1), int(upstream.group(2))) == (web.host, web.port)


# --- nginx ---------------------------------------------------------------------------------


def nginx() -> str:
    text = (DEPLOY / "nginx" / "flurfunk.conf").read_text()
    return "\n".join(line.split("#", 1)[0] for line in text.splitlines())


def blocks(text: str, opener: str) -> Iterator[tuple[str, str]]:
    """(argument, body) of each top-level-or-nested `opener ARG { … }` (braces balanced)."""
    for found in re.finditer(rf"\b{opener}\s+([^{{;]*?)\s*\{{", text):
        depth, start = 1, found.end()
        position = start
        while depth:
            position += 1
            depth += {"{": 1, "}": -1}.get(text[position - 1], 0)
        yield found.group(1), text[start : position - 1]


def test_nginx_example_terminates_tls_and_forwards_what_the_node_needs() -> None:
    text = nginx()
    assert text.count("{") == text.count("}")
    assert re.search(r"listen\s+443\s+ssl", text)
    assert re.search(r"ssl_certificate\s+\S+;", text)
    assert re.search(r"ssl_certificate_key\s+\S+;", text)
    size = re.search(r"client_max_body_size\s+(\S+);", text)
    assert size, "client_max_body_size"
    assert size_in_bytes(size.group(1)) >= MAX_UPLOAD_BODY
    locations = dict(blocks(text, "location"))
    proxied = {path: body for path, body in locations.items() if "proxy_pass" in body}
    assert "/" in proxied
    for path, body in proxied.items():  # nginx does not inherit them into such a location
        for header in ("Host", "X-Forwarded-For", "X-Forwarded-Proto"):
            assert re.search(rf"proxy_set_header\s+{header}\s", body), (path, header)
        assert "proxy_http_version 1.1;" in body, path


def test_nginx_upgrades_websockets_on_the_streaming_path() -> None:
    text = nginx()
    streaming = dict(blocks(text, "location"))[STREAMING]
    assert re.search(r"proxy_set_header\s+Upgrade\s+\$http_upgrade;", streaming)
    assert re.search(r"proxy_set_header\s+Connection\s+\$connection_upgrade;", streaming)
    assert re.search(r"map\s+\$http_upgrade\s+\$connection_upgrade\s*\{", text)
    assert "proxy_buffering off;" in streaming  # server-sent events
    assert any(path.startswith(STREAMING) for path in route_paths()), "the node streams there"


# --- README --------------------------------------------------------------------------------


def production_section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("## Running in production")
    end = text.find("\n## ", start + 3)
    return text[start : end if end != -1 else None]


def test_readme_production_commands_exist() -> None:
    section = production_section()
    commands = re.findall(r"^\s*(?:\$\s*)?(flurfunk\s[^#\n`]*)", section, re.M)
    commands += re.findall(r"`(flurfunk\s[^`]*)`", section)
    assert len(commands) >= 3
    for command in commands:
        accepts(shlex.split(command.replace("…", "x")))


def test_readme_settings_table_lists_every_setting() -> None:
    text = (ROOT / "README.md").read_text()
    table = set(re.findall(r"^\|\s*`([A-Z0-9_]+)`\s*\|", text, re.M))
    missing = sorted(set(KEYS) - table)
    assert not missing, f"settings without a row in the README's table: {missing}"
