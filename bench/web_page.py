"""The home page in the browser against the JSON home timeline of the same 40 posts.

One node, one reader who follows two colleagues; 40 posts on the reader's home timeline,
among them posts with an image attachment, with mentions and with a poll. A sequential client
over one keep-alive connection alternates `GET /` (the HTML page, signed in with a browser
session) and `GET /api/v1/timelines/home?limit=40` (bearer token), so both see the same load,
and the floor: `GET /livez`, a bare answer from the same server in the same rounds.

A reader who reloads gets the status cards from the card cache (web/ui/cards.py); the first
view in a new browser session renders every card. That first view is measured on its own,
with one fresh session per request (COLD sessions, signed in beforehand, not timed),
alternating with the JSON home timeline as the reloads do.
"""

from __future__ import annotations

import argparse
import io
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from PIL import Image

from tests.kit import RunningNode, User

Measure = Callable[[str, str, Path], list[str]]
ROUNDS = 300
WARM_UP = 30
COLD = 60
STATIC = Path(__file__).resolve().parent.parent / "web" / "ui" / "static"

NOTE = [
    "Server time is what a sequential client on loopback waits for the answer, over one",
    "keep-alive connection to one `flurfunk serve` process; page and JSON requests alternate.",
    "The page runs the same endpoint code as the API in-process (web/ui/calls.py), then",
    "renders the JSON it answers with Jinja; a reload takes the status cards from the card",
    "cache (web/ui/cards.py), the first view in a new browser session renders all 40 (measured",
    "with one fresh session per request; with 60 of them, their p99 is the slowest). The floor",
    "is `GET /livez` on the same server in the same rounds. Page weight is the home page's",
    "HTML plus the stylesheet and the script (images not counted), uncompressed.",
]


def _percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def _seed(node: RunningNode) -> tuple[User, User, User]:
    reader, ana, ben = (node.create_user(n) for n in ("reader", "ana", "ben"))
    for author in (ana, ben):
        node.api(reader, "POST", f"/api/v1/accounts/{author.id}/follow").raise_for_status()
    picture = io.BytesIO()
    Image.new("RGB", (320, 200), (40, 90, 160)).save(picture, "PNG")
    for n in range(40):
        author = (ana, ben, reader)[n % 3]
        data: dict[str, object] = {"status": f"Post {n} about the quarterly plan #plan{n % 4}"}
        if n % 5 == 0:
            media = node.api(
                author,
                "POST",
                "/api/v2/media",
                files={"file": ("chart.png", picture.getvalue(), "image/png")},
                data={"description": "A chart of the plan"},
            )
            media.raise_for_status()
            data["media_ids[]"] = media.json()["id"]
        if n % 4 == 1:
            other = ben if author is ana else ana
            data["status"] = f"@{other.name} @{reader.name} see post {n}, please"
        if n == 7:
            data["poll[options][]"] = ["Yes", "No", "Later"]
            data["poll[expires_in]"] = "86400"
        node.api(author, "POST", "/api/v1/statuses", data=data).raise_for_status()
    return reader, ana, ben


def _timed(client: httpx.Client, path: str, **params: object) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    answer = client.get(path, params=params or None)
    return (time.perf_counter() - started) * 1000, answer


def _sign_in(browser: httpx.Client, reader: User) -> None:
    form = browser.get("/auth/sign_in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    signed = browser.post(
        "/auth/sign_in",
        data={"csrf_token": token.group(1), "login": reader.name, "password": reader.password},
    )
    assert signed.status_code == 303, signed.text


def measure(backend: str, url: str, work: Path) -> list[str]:
    node = RunningNode(data_dir=work, database_url=url)
    node.start()
    try:
        reader, _, _ = _seed(node)
        page_ms: list[float] = []
        json_ms: list[float] = []
        floor_ms: list[float] = []
        cold_ms: list[float] = []
        cold_json_ms: list[float] = []
        api = httpx.Client(
            base_url=node.url, headers={"Authorization": f"Bearer {reader.token}"}, timeout=30
        )
        browser = httpx.Client(base_url=node.url, headers={"Accept": "text/html"}, timeout=30)
        newcomers = [
            httpx.Client(base_url=node.url, headers={"Accept": "text/html"}, timeout=30)
            for _ in range(COLD)
        ]
        with browser, api:
            _sign_in(browser, reader)
            for newcomer in newcomers:
                _sign_in(newcomer, reader)
            html = ""
            for n in range(WARM_UP + ROUNDS):
                page_time, answer = _timed(browser, "/")
                json_time, timeline = _timed(api, "/api/v1/timelines/home", limit=40)
                floor_time, bare = _timed(api, "/livez")
                assert answer.status_code == 200
                assert bare.status_code == 200
                assert len(timeline.json()) == 40
                html = answer.text
                if n >= WARM_UP:
                    page_ms.append(page_time)
                    json_ms.append(json_time)
                    floor_ms.append(floor_time)
            for newcomer in newcomers:
                cold_time, answer = _timed(newcomer, "/")
                json_time, timeline = _timed(api, "/api/v1/timelines/home", limit=40)
                newcomer.close()
                assert answer.status_code == 200
                cold_ms.append(cold_time)
                cold_json_ms.append(json_time)
        shown = html.count('<article class="status')
        weight = len(html.encode()) + sum(
            (STATIC / name).stat().st_size for name in ("app.css", "app.js")
        )
    finally:
        node.stop()
    p50 = statistics.median(page_ms), statistics.median(json_ms)
    p99 = _percentile(page_ms, 0.99), _percentile(json_ms, 0.99)
    cold = statistics.median(cold_ms), _percentile(cold_ms, 0.99)
    cold_json = statistics.median(cold_json_ms), _percentile(cold_json_ms, 0.99)
    floor = statistics.median(floor_ms), _percentile(floor_ms, 0.99)
    return [
        f"**{backend}** ({ROUNDS} requests each, {shown} statuses on the page; first views: "
        f"{COLD} sessions):",
        "",
        "| | p50 | p99 |",
        "|---|---|---|",
        f"| home page (HTML), reload | {p50[0]:.1f} ms | {p99[0]:.1f} ms |",
        f"| home timeline (JSON, limit=40) | {p50[1]:.1f} ms | {p99[1]:.1f} ms |",
        f"| floor: GET /livez | {floor[0]:.1f} ms | {floor[1]:.1f} ms |",
        f"| **page / JSON** | **{p50[0] / p50[1]:.2f}x** | **{p99[0] / p99[1]:.2f}x** |",
        f"| home page, first view in a session | {cold[0]:.1f} ms | {cold[1]:.1f} ms |",
        f"| home timeline (JSON), alternating with the first views | {cold_json[0]:.1f} ms "
        f"| {cold_json[1]:.1f} ms |",
        f"| first view / JSON | {cold[0] / cold_json[0]:.2f}x | {cold[1] / cold_json[1]:.2f}x |",
        "",
        f"Page weight: {weight / 1024:.1f} KB (HTML {len(html.encode()) / 1024:.1f} KB).",
        "",
    ]


def section(
    args: argparse.Namespace, per_backend: Callable[[argparse.Namespace, Measure], list[str]]
) -> list[str]:
    return per_backend(args, measure)
