"""What the deploy/ checks share: where the files are, and whether a command line, a setting
or a size is one the node accepts."""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from web.cli import parser
from web.config import KEYS, PREFIX, ConfigError, load_settings
from web.routes import routes

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SETTINGS = {PREFIX + key for key in KEYS} | {PREFIX + "CONFIG"}  # CONFIG: where the TOML is
IMAGE_ENTRYPOINT = ["flurfunk"]
STREAMING = "/api/v1/streaming"
UNITS = {"k": 1024, "m": 1024**2, "g": 1024**3}


def accepts(argv: list[str]) -> argparse.Namespace:
    """`argv` (starting with the `flurfunk` program) is a command the CLI accepts."""
    assert Path(argv[0]).name == "flurfunk", argv
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors):
            return parser().parse_args(argv[1:])
    except SystemExit:
        pytest.fail(f"`{shlex.join(argv)}` is no valid flurfunk command: {errors.getvalue()}")


def setting_names(text: str) -> set[str]:
    return set(re.findall(r"\bFLURFUNK_[A-Z0-9_]+", text))


def valid_settings(env: Mapping[str, Any], tmp_path: Path) -> None:
    """The node accepts these values (DATA_DIR moved to a scratch directory)."""
    unknown = sorted(set(env) - SETTINGS)
    assert not unknown, f"settings the node does not know: {unknown}"
    values = {key: str(value) for key, value in env.items()}
    values[PREFIX + "DATA_DIR"] = str(tmp_path / "data")
    values[PREFIX + "CONFIG"] = str(tmp_path / "none.toml")
    try:
        load_settings(values)
    except ConfigError as exc:
        pytest.fail(f"a value the node refuses: {exc}")


def route_paths() -> set[str]:
    return {str(getattr(route, "path", "")) for route in routes()}


def size_in_bytes(text: str) -> int:
    """nginx sizes (`120m`, k/m/g are powers of 1024) and Caddy's (`120MiB`, `120MB`)."""
    found = re.fullmatch(r"(\d+)\s*([kmg]?)(i?)(b?)", text.strip().lower())
    assert found, f"unreadable size {text!r}"
    number, unit, binary, byte = found.groups()
    if not unit:
        return int(number)
    if byte and not binary:  # Caddy's MB is 1000^2
        return int(number) * 1000 ** ("kmg".index(unit) + 1)
    return int(number) * UNITS[unit]


def env_file(path: Path) -> dict[str, str]:
    """KEY=value lines; comments and blank lines skipped (systemd's EnvironmentFile)."""
    values = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}:{number}: not KEY=value"
        assert re.fullmatch(r"[A-Z_][A-Z0-9_]*", key), f"{path.name}:{number}: {key!r}"
        values[key] = value
    return values
