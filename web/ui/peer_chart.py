"""The little chart of a peer's last 24 hours on /admin/federation: stacked bars per clock
hour, delivered below and failed attempts on top, drawn as inline SVG on the server (no chart
library in the browser). The same numbers are in a table next to it for screen readers and
for anyone who wants the figures."""

from __future__ import annotations

from dataclasses import dataclass

from web.delivery_report import HourCount

WIDTH = 240
HEIGHT = 60
BAR = WIDTH // 24


@dataclass(frozen=True)
class Bar:
    x: int
    width: int
    delivered_y: float
    delivered_height: float
    failed_y: float
    failed_height: float


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    peak: int
    bars: list[Bar]


def chart(hours: list[HourCount]) -> Chart:
    peak = max((h.delivered + h.failed for h in hours), default=0)
    scale = HEIGHT / peak if peak else 0.0
    bars = []
    for i, h in enumerate(hours):
        delivered = h.delivered * scale
        failed = h.failed * scale
        bars.append(
            Bar(
                x=i * BAR,
                width=BAR - 1,
                delivered_y=round(HEIGHT - delivered, 2),
                delivered_height=round(delivered, 2),
                failed_y=round(HEIGHT - delivered - failed, 2),
                failed_height=round(failed, 2),
            )
        )
    return Chart(WIDTH, HEIGHT, peak, bars)
