"""Status creation rate and home-timeline read latency, measured through the HTTP API.

Each figure stands next to its floor measured in the same run on the same server: a bare
endpoint (`/livez`, no database) for latency.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass

import httpx


@dataclass
class Latency:
    p50_ms: float
    p99_ms: float
    samples: int


def latency(samples: list[float]) -> Latency:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return Latency(statistics.median(ordered) * 1000, p99 * 1000, len(ordered))


async def read_latency(base: str, paths: list[tuple[str, str]], rounds: int) -> Latency:
    """Sequential GETs over one keep-alive connection: (path, token) pairs, `rounds` times."""
    samples = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        for path, token in paths[:20]:  # warm-up: connection, caches, statement cache
            await client.get(path, headers={"Authorization": f"Bearer {token}"})
        for _ in range(rounds):
            for path, token in paths:
                started = time.perf_counter()
                response = await client.get(path, headers={"Authorization": f"Bearer {token}"})
                samples.append(time.perf_counter() - started)
                response.raise_for_status()
    return latency(samples)


async def creation_rate(base: str, tokens: list[str], total: int, concurrency: int) -> float:
    """Statuses created per second by `concurrency` clients posting `total` statuses."""
    counter = iter(range(total))

    async def poster(client: httpx.AsyncClient, token: str) -> None:
        for n in counter:
            response = await client.post(
                "/api/v1/statuses",
                headers={"Authorization": f"Bearer {token}"},
                data={"status": f"Benchmark post {n} #bench", "visibility": "public"},
            )
            response.raise_for_status()

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(poster(client, tokens[i % len(tokens)]) for i in range(concurrency)))
        return total / (time.perf_counter() - started)
