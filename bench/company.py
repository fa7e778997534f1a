"""A simulated company day (`make bench-company`): ten nodes on loopback, 2,000 staff, a busy
hour compressed into `--company-duration` seconds (600 by default), one node killed (SIGKILL)
for a minute in the middle and restarted.

The nodes, the seeding, the workload and the accounting are tests/company_kit.py's (the test
suite runs the same day on three nodes for half a minute). This adds the clock and the report:
delivery lag (a status sent on one node until the first streaming client on another node that
should have it shows it), stream latency (until each streaming client shows it; same-node
latency is the floor), CPU and RSS of each node's processes from /proc, and a plot of lag over
the hour with the outage marked (matplotlib, the `bench` extra). The streams are watched from
child processes (tests/company_streams.py), so that the process that writes waits for none
of them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.company_kit import (
    Accounts,
    Company,
    Day,
    Ledger,
    account,
    company_network,
    group_for,
    seed_company,
    stream_times,
    watch_streams,
)
from tests.federation_kit import FedNode, Network
from tests.kit import postgres_available
from tests.scale_kit import OwnRedis, ScaledNode, redis_problem

NAMES = ["hq", "sales", "dev", "hr", "ops", "legal", "finance", "support", "lab", "plant"]
SCALED = "hq"  # PostgreSQL + Redis, serve --workers 2 + a worker
VICTIM = "sales"  # embedded; killed for a minute in the middle
PLOT = Path(__file__).parent / "company_day.png"
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


# --- CPU and RSS from /proc -----------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = defaultdict(list)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        tree[parent].append(int(entry))
    return tree


def _tree(root: int, tree: dict[int, list[int]]) -> list[int]:
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += tree.get(pid, [])
    return found


def _cpu_rss(pid: int) -> tuple[float, int] | None:
    """(CPU seconds used so far, RSS bytes) of one process."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        rss_pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / TICK, rss_pages * PAGE


@dataclass
class Usage:
    cpu_seconds: float = 0.0
    rss_peak: int = 0
    rss_samples: list[int] = field(default_factory=list)


class Sampler:
    """Every `every` seconds: CPU time and RSS of each node's processes (serve and its
    children, plus `flurfunk worker`s); CPU time is summed per process across restarts."""

    def __init__(self, net: Network, every: float = 2.0) -> None:
        self.net = net
        self.every = every
        self.usage = {name: Usage() for name in net.nodes}
        self._last: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def roots(self, node: FedNode) -> list[int]:
        pids = [node.process.pid] if node.process and node.process.poll() is None else []
        if isinstance(node, ScaledNode):
            pids += [w.pid for w in node.workers if w.poll() is None]
        return pids

    def sample(self) -> None:
        tree = _children()
        for name, node in self.net.nodes.items():
            rss = 0
            for pid in [p for root in self.roots(node) for p in _tree(root, tree)]:
                measured = _cpu_rss(pid)
                if measured is None:
                    continue
                cpu, resident = measured
                self.usage[name].cpu_seconds += cpu - self._last.get(pid, cpu)
                self._last[pid] = cpu
                rss += resident
            self.usage[name].rss_samples.append(rss)
            self.usage[name].rss_peak = max(self.usage[name].rss_peak, rss)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.sample()

    def __enter__(self) -> Sampler:
        self.sample()  # the baseline: CPU counted from here
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
        self.sample()


# --- the run ------------------------------------------------------------------------------


@dataclass
class DayResult:
    nodes: int
    staff: int
    follows: int
    across: int
    streaming: int
    group_members: int
    duration: float
    peak: float
    outage: tuple[float, float]  # seconds into the day: killed, live again
    ledger: Ledger
    accounts: Accounts
    idle: dict[str, Usage]
    busy: dict[str, Usage]
    seed_seconds: float
    started: float
    load_before: float
    load_after: float
    homes: list[str]  # each person's node


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


def run_day(args: Any, work: Path, redis: OwnRedis | None) -> DayResult:
    names = NAMES[: args.company_nodes]
    scaled = {SCALED: redis.url(0)} if redis is not None else {}
    with company_network(work, names, scaled) as net:
        company: Company = seed_company(
            net, staff=args.company_staff, follows_each=args.company_follows
        )
        group_for(company, "dev", members=min(40, args.company_staff // 20))
        duration = args.company_duration
        outage = (duration * 0.45, min(args.company_outage, duration * 0.3))
        day = Day(company, duration=duration, peak=args.company_peak, outage=outage, victim=VICTIM)
        victim = net[VICTIM]
        streaming = company.people[:: round(1 / args.company_streaming)]
        with Sampler(net) as idle:
            time.sleep(10)
        load_before = os.getloadavg()[0]

        async def run() -> None:
            streams = watch_streams(company, streaming, day.ledger)
            try:
                await streams.start(connected_within=120)
                await day.run(kill=victim.kill, restart=victim.start)
                await asyncio.sleep(20)  # late frames (the victim's backlog) still count
            finally:
                await streams.stop()

        with Sampler(net) as busy:
            asyncio.run(run())
        load_after = os.getloadavg()[0]
        stream_times(company, day.ledger)
        result = account(company, day.ledger, timeout=args.company_accounting_timeout)
        assert day.outage_at is not None
        killed, back = (t - day.started for t in day.outage_at)
        return DayResult(
            nodes=len(names),
            staff=len(company.people),
            follows=len(company.follows),
            across=sum(
                1 for a, b in company.follows if company.people[a].node != company.people[b].node
            ),
            streaming=len(streaming),
            group_members=len(company.group.members) if company.group else 0,
            duration=duration,
            peak=args.company_peak,
            outage=(killed, back),
            ledger=day.ledger,
            accounts=result,
            idle=idle.usage,
            busy=busy.usage,
            seed_seconds=company.seed_seconds,
            started=day.started,
            load_before=load_before,
            load_after=load_after,
            homes=[p.node for p in company.people],
        )


def lags(r: DayResult) -> list[tuple[float, float, bool]]:
    """(seconds into the day the status was sent, ms until first shown on another node,
    whether that node was the victim) for every status and node a stream there showed."""
    out = []
    for uri, seen in r.ledger.first_seen.items():
        w = r.ledger.statuses[uri]
        for node, moment in seen.items():
            if node == r.homes[w.author]:
                continue
            out.append((w.sent_at - r.started, (moment - w.sent_at) * 1000, node == VICTIM))
    return out


def plot(r: DayResult, points: list[tuple[float, float, bool]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minute = 60 / r.duration  # the day's seconds as minutes of the hour it stands for
    fig, ax = plt.subplots(figsize=(11, 5), dpi=110)
    ax.axvspan(r.outage[0] * minute, r.outage[1] * minute, color="tab:red", alpha=0.12)
    ax.text(r.outage[0] * minute, 0.5, f" {VICTIM} killed", color="tab:red", va="bottom")
    others = [(t * minute, ms) for t, ms, v in points if not v]
    victims = [(t * minute, ms) for t, ms, v in points if v]
    if others:
        ax.scatter(*zip(*others, strict=True), s=3, alpha=0.35, label="to a running node")
    if victims:
        ax.scatter(
            *zip(*victims, strict=True), s=4, alpha=0.6, color="tab:red", label=f"to {VICTIM}"
        )
    bins: dict[int, list[float]] = defaultdict(list)
    for t, ms, _ in points:
        bins[int(t * minute)].append(ms)
    xs = sorted(bins)
    ax.plot(
        [x + 0.5 for x in xs],
        [quantile(bins[x], 0.5) for x in xs],
        color="black",
        label="p50 per minute",
    )
    ax.plot(
        [x + 0.5 for x in xs],
        [quantile(bins[x], 0.99) for x in xs],
        color="tab:orange",
        label="p99 per minute",
    )
    writes = Counter(int((t - r.started) * minute) for t, _ in r.ledger.write_times)
    twin = ax.twinx()
    twin.bar(
        [x + 0.5 for x in sorted(writes)],
        [writes[x] / (60 / minute) for x in sorted(writes)],
        width=1.0,
        color="tab:green",
        alpha=0.12,
    )
    twin.set_ylabel("writes/s (bars)")
    ax.set_yscale("log")
    ax.set_xlabel(f"minute of the busy hour (replayed in {r.duration / 60:.0f} min)")
    ax.set_ylabel("delivery lag, ms (log)")
    ax.set_title(f"Company day: {r.nodes} nodes, {r.staff:,} staff, peak {r.peak:.0f} writes/s")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# --- the report ---------------------------------------------------------------------------


def _row(name: str, values: list[float]) -> str:
    if not values:
        return f"| {name} | 0 | - | - | - | - |"
    return (
        f"| {name} | {len(values):,} | {quantile(values, 0.5):.0f} | {quantile(values, 0.95):.0f} "
        f"| {quantile(values, 0.99):.0f} | {max(values):.0f} |"
    )


def report(r: DayResult, points: list[tuple[float, float, bool]]) -> list[str]:
    ledger, acc = r.ledger, r.accounts
    writes = sum(ledger.writes.values())
    per_second = Counter(int(t - r.started) for t, _ in ledger.write_times)
    peak_10s = max(
        (sum(per_second[s + i] for i in range(10)) / 10 for s in per_second), default=0.0
    )
    killed, back = r.outage
    outside = [ms for t, ms, v in points if not v and not killed - 5 <= t <= back + 60]
    victim = [ms for t, ms, v in points if v]
    same = [ms for _, ms, cross in ledger.stream_samples if not cross]
    cross = [ms for _, ms, cross in ledger.stream_samples if cross]
    kinds = ", ".join(f"{k} {n:,}" for k, n in ledger.writes.most_common())
    no_connection = sum(n for k, n in ledger.skipped.items() if "no free connection" in k)
    answers_5xx = sum(n for k, n in ledger.answers.items() if k.split()[-1].startswith("5"))
    lines = [
        f"{r.nodes} nodes ({SCALED}: PostgreSQL + Redis, `serve --workers 2` + a worker, unless "
        f"said otherwise above; the others embedded SQLite), {r.staff:,} staff, "
        f"{r.follows:,} follows ({r.across:,} across nodes), a members-only group of "
        f"{r.group_members} on dev, {r.streaming} staff on "
        f"WebSocket user streams. Seeding took {r.seed_seconds:.0f} s. The day: "
        f"{r.duration:.0f} s standing for an hour, peak {r.peak:.0f} writes/s; {VICTIM} killed "
        f"(SIGKILL) at {killed:.0f} s and live again at {back:.0f} s. Load average "
        f"{r.load_before:.1f} before, {r.load_after:.1f} after.",
        "",
        f"**Writes: {writes:,}** ({kinds}); highest 10-second rate {peak_10s:.1f} writes/s. "
        f"Planned but not possible at that moment (nothing fitting to reply to or like, the "
        f"victim's staff while it was down): {sum(ledger.skipped.values()):,}, of which "
        f"{no_connection:,} waited in vain for a free connection of the load generator's "
        "client (never sent).",
        "",
        "| accounting | result |",
        "|---|---|",
        f"| homes checked / status-in-home entries expected | {acc.checked_homes:,} / "
        f"{acc.expected_entries:,} |",
        f"| lost | **{len(acc.lost)}** |",
        f"| duplicated | **{len(acc.duplicated)}** |",
        f"| misaddressed or deleted yet shown | **{len(acc.unexpected)}** |",
        f"| edits or media missing | **{len(acc.stale)}** |",
        f"| favourite/boost counts wrong on the author's node | **{len(acc.counts)}** |",
        f"| follows/unfollows not agreed by both sides | **{len(acc.relationships)}** |",
        f"| 5xx answers | **{answers_5xx}** |",
        f"| writes without an answer (timeouts; what they touched is not judged) | "
        f"{len(ledger.unanswered)} |",
        f"| checking took | {acc.seconds:.0f} s, {acc.rounds} round(s) |",
        "",
    ]
    for problem in acc.problems[:10] + ledger.server_errors[:10]:
        lines.append(f"- {problem}")
    lines += [
        "",
        "| ms from just before the write's request | samples | p50 | p95 | p99 | max |",
        "|---|---|---|---|---|---|",
        _row("**delivery lag** to another node (first stream there), outside the outage", outside),
        _row("delivery lag to the killed node (backlog after restart)", victim),
        _row("**stream latency**, listener on another node", cross),
        _row("floor: stream latency, listener on the author's node", same),
        "",
        "| node | CPU idle (10 s) | CPU during the day, avg cores | RSS idle MiB | RSS peak MiB |",
        "|---|---|---|---|---|",
    ]
    for name in r.busy:
        idle, busy = r.idle[name], r.busy[name]
        span = r.duration + 20
        label = (
            name + (" (scaled)" if name == SCALED else "") + (" (killed)" if name == VICTIM else "")
        )
        lines.append(
            f"| {label} | {idle.cpu_seconds / 10:.3f} | {busy.cpu_seconds / span:.2f} "
            f"| {idle.rss_peak / 2**20:.0f} | {busy.rss_peak / 2**20:.0f} |"
        )
    lines += ["", f"![delivery lag over the hour]({PLOT.name})", ""]
    return lines


NOTE = [
    "Ten real nodes on loopback (tests/company_kit.py; its three-node, 30-second version is",
    "tests/integration/test_company_day.py).",
    "Staff, tokens and follows are written straight into each database as the API and the",
    "inbox would (a follow across nodes on both sides, with the same Follow id); follows",
    "made during the day are real federated follows. The workload (Poisson arrivals at a",
    "busy-hour rate: 30 % of the peak at the start, the peak in the middle) posts with",
    "mentions and hashtags, replies, favourites, boosts, direct messages, media, group",
    "posts, follows and unfollows, edits and deletes, through the client API. The victim's",
    "staff stop writing just before the kill (so every write's outcome is known); what other",
    "nodes deliver to it is cut off mid-flight. Afterwards every home timeline is read to",
    "its end and compared with what was written (every status exactly once where a follow,",
    "mention or group membership says it belongs, none elsewhere, none deleted, edits and",
    "media present), favourite and boost counts are read on the author's node, and every",
    "follow changed today is read from both sides; what is not right is re-read until it",
    "is or the accounting time limit passes. Delivery lag: from just before the write's",
    "request until the first streaming client on another node shows it (nodes without a",
    "streaming recipient of that status count nothing). CPU and RSS from /proc for each",
    "node's processes (serve with its children, plus the worker). The streams are watched",
    "from child processes of the load generator (50 each); one asyncio process plans and",
    "sends the writes, with a connection pool per node; a write that found no free",
    "connection was never sent and is counted as not possible, not as unanswered.",
]


def add_arguments(parser: Any) -> None:
    group = parser.add_argument_group("company day")
    group.add_argument("--company-duration", type=float, default=600.0, help="seconds")
    group.add_argument("--company-nodes", type=int, default=10)
    group.add_argument("--company-staff", type=int, default=2000)
    group.add_argument("--company-follows", type=int, default=10, help="follows per person")
    group.add_argument("--company-peak", type=float, default=50.0, help="writes/s at the peak")
    group.add_argument("--company-outage", type=float, default=60.0, help="seconds down")
    group.add_argument("--company-streaming", type=float, default=0.1, help="share of staff")
    group.add_argument("--company-accounting-timeout", type=float, default=900.0)
    group.add_argument(
        "--company-scaled",
        action=argparse.BooleanOptionalAction,
        default=True,
        help=f"run {SCALED} on PostgreSQL + Redis (else every node embedded)",
    )


def section(args: Any) -> list[str]:
    available, reason = postgres_available()
    if not args.company_scaled:
        available, reason = False, "--no-company-scaled"
    redis = OwnRedis() if available else None
    if redis is not None:
        redis.start()
        if redis_problem(redis.url(0)):
            redis.stop()
            redis = None
    try:
        with tempfile.TemporaryDirectory(prefix="flurfunk-bench-company-") as work:
            result = run_day(args, Path(work), redis)
    finally:
        if redis is not None:
            redis.stop()
    points = lags(result)
    plot(result, points, PLOT)
    lines = report(result, points)
    if not available:
        lines.insert(0, f"**No scaled-out node ({reason}): every node embedded.**")
    return lines
