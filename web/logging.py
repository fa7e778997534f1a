"""Structured logs: JSON lines for log collectors, readable lines on a terminal, and a request
id on every line a request causes.

The request id comes from the proxy (`X-Request-Id`) or is made here; it is returned in the
response header and carried in a context variable, so every log line of that request — ours,
uvicorn's, a library's — names it. One middleware does this, times the request for the
metrics and writes the access line: one wrapper around `send` instead of three.
"""

from __future__ import annotations

import itertools
import logging
import logging.config
import os
import re
import sys
import time
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web import metrics

REQUEST_ID: ContextVar[str | None] = ContextVar("flurfunk_request_id", default=None)
HEADER = b"x-request-id"
# What a proxy may hand us: nginx's $request_id, UUIDs, trace ids. Anything else is replaced,
# so that a client cannot write arbitrary text into the logs.
ACCEPTED_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
UNMATCHED = "unmatched"  # the route label of requests no route matched (keeps labels bounded)

access = logging.getLogger("flurfunk.access")
# Generated ids: random per process, then counted — unique across processes and restarts,
# and a third of the cost of 16 random bytes per request.
_ID_PREFIX = os.urandom(8).hex()
_id_sequence = itertools.count(1)

# Attributes every LogRecord has; anything else on a record came from `extra=` and is logged.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "request_id",
    "color_message",  # uvicorn's ANSI-coloured copy of the message
    "taskName",
}


class RequestIdFilter(logging.Filter):
    """Stamps each record with the id of the request being served (None outside requests)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, pid, request_id, extras, exc."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,  # which of several web processes
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            entry["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD:
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc"] = record.exc_text
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    """`2025-05-01 12:00:00,123 INFO flurfunk.access [3f2a…] GET /api/v1/… 200 2.1 ms`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s%(rid)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None)
        record.rid = f" [{request_id}]" if request_id else ""
        return super().format(record)


def resolved_format(log_format: str) -> str:
    """`auto` is JSON unless stdout is a terminal."""
    if log_format == "auto":
        return "text" if sys.stdout.isatty() else "json"
    return log_format


def logging_config(log_format: str, level: str = "info") -> dict[str, Any]:
    """A dictConfig for the whole process, uvicorn's loggers included.

    uvicorn applies it in every worker process it spawns, so it must be plain data.
    """
    json_lines = resolved_format(log_format) == "json"
    formatter = "web.logging.JsonFormatter" if json_lines else "web.logging.TextFormatter"
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "web.logging.RequestIdFilter"}},
        "formatters": {"line": {"()": formatter}},
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "formatter": "line",
                "filters": ["request_id"],
            }
        },
        "root": {"handlers": ["stdout"], "level": level},
        "loggers": {
            # uvicorn's own lines go through the root handler, in the same format.
            "uvicorn": {"handlers": [], "propagate": True, "level": level},
            "uvicorn.error": {"handlers": [], "propagate": True, "level": level},
            # Our access line replaces uvicorn's: it has the route, duration and request id.
            "uvicorn.access": {"handlers": [], "propagate": False, "level": "WARNING"},
            "alembic.runtime.plugins": {"level": "WARNING"},  # a line per plugin at start-up
            # arq writes two info lines per job (one job per activity); jobs that fail are
            # still logged (as errors). The database rows, not the jobs, are the record.
            "arq.worker": {"level": "WARNING"},
        },
    }


def configure_logging(log_format: str, level: str = "info") -> None:
    logging.config.dictConfig(logging_config(log_format, level))
    logging.captureWarnings(True)  # warnings become log lines in the same format


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == HEADER:
            text: str = value.decode("latin-1")
            if ACCEPTED_ID.fullmatch(text):
                return text
            break
    return f"{_ID_PREFIX}{next(_id_sequence):016x}"


def route_of(scope: Scope) -> str:
    """The matched route's template (`/api/v1/statuses/{id}`), never the raw path."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


class RequestObserver:
    """Request id, latency metric and access log for every HTTP request (and the request id
    for WebSocket connections)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        REQUEST_ID.set(request_id)  # left set: the outer error handler logs with it too
        header = (HEADER, request_id.encode())
        if kind == "websocket":

            async def send_with_id(message: Message) -> None:
                if message["type"] == "websocket.accept":
                    message["headers"] = [*message.get("headers", ()), header]
                await send(message)

            await self.app(scope, receive, send_with_id)
            return

        started = time.perf_counter()
        status = 500  # what the client gets if the app fails before answering

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            seconds = time.perf_counter() - started
            route = route_of(scope)
            metrics.observe_request(scope["method"], route, status, seconds)
            if access.isEnabledFor(logging.INFO):
                _access_line(scope, route, status, seconds)


def _access_line(scope: Scope, route: str, status: int, seconds: float) -> None:
    # The query string is left out: streaming clients put their access token there.
    path = scope.get("root_path", "") + scope["path"]
    duration_ms = round(seconds * 1000, 2)
    access.info(
        "%s %s %d %.2f ms",
        scope["method"],
        path,
        status,
        duration_ms,
        extra={
            "method": scope["method"],
            "path": path,
            "route": route,
            "status": status,
            "duration_ms": duration_ms,
            "client": (scope.get("client") or ("",))[0],
        },
    )
