"""Attachment serving: public and confidential files against a plain static file.

One node; an author, a follower and two posts with the same PNG attached, one public and one
followers-only. 16 concurrent clients over keep-alive connections GET, in alternating rounds:
the floor (`/static/avatar.png`, Starlette's StaticFiles on the same server, no database),
the public attachment (one row look-up), the followers-only attachment through the URL the
API handed the follower (row look-up, HMAC, visibility query) and through the follower's
bearer token instead (row look-up, token look-up, visibility query).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from PIL import Image

from tests.kit import RunningNode, User

Measure = Callable[[str, str, Path], list[str]]
CONCURRENCY = 16

NOTE = [
    "One `flurfunk serve` process; 16 concurrent clients (one asyncio process, httpx, one",
    "keep-alive connection each) GET the same file again and again; the kinds alternate in",
    "rounds, so each sees the same load. *Floor*: `/static/avatar.png` from Starlette's",
    "StaticFiles in the same server (no database). *Public*: a public post's attachment (the",
    "attachment and its post looked up in one query, served with `Cache-Control: public`).",
    "*Signed URL*: a followers-only post's attachment through the URL the API handed the",
    "follower (the row, an HMAC check, the visibility query). *Token*: the same file with the",
    "follower's bearer token instead (the row, the token look-up, the visibility query).",
    "Confidential files are answered `private, no-store`, so clients fetch them every time;",
    "public ones are cacheable and a browser asks for them far less often than measured here.",
]


def _picture() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 200), (40, 90, 160)).save(buffer, "PNG")
    return buffer.getvalue()


def _seed(node: RunningNode) -> tuple[User, dict[str, str]]:
    author, follower = node.create_user("author"), node.create_user("follower")
    node.api(follower, "POST", f"/api/v1/accounts/{author.id}/follow").raise_for_status()
    urls: dict[str, str] = {}
    for visibility in ("public", "private"):
        media = node.api(
            author,
            "POST",
            "/api/v2/media",
            files={"file": ("chart.png", _picture(), "image/png")},
        )
        media.raise_for_status()
        sent = node.api(
            author,
            "POST",
            "/api/v1/statuses",
            json={"status": "chart", "visibility": visibility, "media_ids": [media.json()["id"]]},
        )
        sent.raise_for_status()
        seen = node.api(follower, "GET", f"/api/v1/statuses/{sent.json()['id']}").json()
        url = urlsplit(seen["media_attachments"][0]["url"])
        urls[visibility] = url.path + ("?" + url.query if url.query else "")
    return follower, urls


async def _rate(node: RunningNode, path: str, headers: dict[str, str], count: int) -> float:
    """Requests per second for `count` GETs of `path` by CONCURRENCY clients."""
    clients = [
        httpx.AsyncClient(base_url=node.url, headers=headers, timeout=30)
        for _ in range(CONCURRENCY)
    ]
    share = count // CONCURRENCY

    async def run(client: httpx.AsyncClient) -> None:
        for _ in range(share):
            try:
                answer = await client.get(path)
            except httpx.RemoteProtocolError:
                # The server closed a keep-alive connection that sat idle past its timeout
                # (a loaded machine): the request was never answered, so send it again.
                answer = await client.get(path)
            if answer.status_code != 200:
                raise RuntimeError(f"GET {path} answered {answer.status_code}")

    try:
        await asyncio.gather(*(c.get(path) for c in clients))  # connections open, warm
        started = time.perf_counter()
        await asyncio.gather(*(run(c) for c in clients))
        return share * CONCURRENCY / (time.perf_counter() - started)
    finally:
        for client in clients:
            await client.aclose()


def measure_with(count: int, rounds: int) -> Measure:
    def measure(backend: str, url: str, work: Path) -> list[str]:
        node = RunningNode(data_dir=work, database_url=url)
        node.start()
        try:
            follower, urls = _seed(node)
            bare = urls["private"].split("?", 1)[0]
            token = {"Authorization": f"Bearer {follower.token}"}
            kinds = {
                "floor: static file (`/static/avatar.png`)": ("/static/avatar.png", {}),
                "public attachment": (urls["public"], {}),
                "followers-only, signed URL": (urls["private"], {}),
                "followers-only, bearer token": (bare, token),
            }
            sizes = {
                name: len(httpx.get(node.url + path, headers=headers).content)
                for name, (path, headers) in kinds.items()
            }
            rates: dict[str, list[float]] = {name: [] for name in kinds}
            for _ in range(rounds):
                for name, (path, headers) in kinds.items():
                    rates[name].append(asyncio.run(_rate(node, path, headers, count)))
        finally:
            node.stop()
        floor = statistics.median(rates[next(iter(kinds))])
        lines = [
            f"**{backend}** ({count:,} requests per kind and round, {rounds} rounds, median):",
            "",
            "| | bytes | requests/s | of the floor |",
            "|---|---|---|---|",
        ]
        for name, samples in rates.items():
            rate = statistics.median(samples)
            lines.append(f"| {name} | {sizes[name]:,} | {rate:,.0f} | {rate / floor:.2f}x |")
        return [*lines, ""]

    return measure


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("media serving")
    group.add_argument("--media-requests", type=int, default=2_000)
    group.add_argument("--media-rounds", type=int, default=3)


def section(
    args: argparse.Namespace, per_backend: Callable[[argparse.Namespace, Measure], list[str]]
) -> list[str]:
    return per_backend(args, measure_with(args.media_requests, args.media_rounds))
