"""Groups: a post to a group with members on several nodes, until the last member's node has
it in that member's home timeline; next to it, the same post from a user whom the same
accounts follow (no group in between).

Real `flurfunk serve` processes on loopback (tests/federation_kit.py): the group lives on
`dev`, the author on `hq`, and the members on `m0 … m{M-1}`, N per node, created through the
client API. The path of a group post is one hop longer (author's node → group's node →
members' nodes, the group Announcing the author's signed Create once per node); the plain post
goes from the author's node to each node once. Small sizes only: the issue's 5,000 members on
20 nodes need members seeded into the databases as bench/fanout_seed.py does for followers
(not done yet).

    .venv/bin/python -m bench.group_fanout --nodes 2 --members 2 --posts 3

One small run (1 member node, 2 members, 2 posts each way) on the shared 2-core machine while
other test suites ran (load ~20), to prove the script works — not a measurement: group
p50 861 ms / max 1370 ms, followers-only post p50 415 ms / max 504 ms.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from tests.federation_kit import (
    FedNode,
    Network,
    Plan,
    follows,
    home,
    network,
    post,
    relationship,
    resolve,
    wait_for,
)
from tests.kit import User

POLL = 0.01  # seconds between timeline reads while waiting
WAIT = 60.0


def _until_everyone_has(readers: list[tuple[FedNode, User]], uri: str) -> float:
    """Seconds until every reader's home timeline shows `uri`."""
    started = time.monotonic()
    pending = list(readers)
    while pending:
        if time.monotonic() - started > WAIT:
            raise RuntimeError(f"{uri} did not reach {len(pending)} readers within {WAIT} s")
        pending = [(n, u) for n, u in pending if all(s["uri"] != uri for s in home(n, u))]
        if pending:
            time.sleep(POLL)
    return time.monotonic() - started


def _join(node: FedNode, user: User, group_id: str) -> None:
    node.api(user, "POST", f"/api/v1/accounts/{group_id}/follow").raise_for_status()
    wait_for(lambda: relationship(node, user, group_id)["following"], "joining the group")


def run(nodes: int, members: int, posts: int, tmp: Path) -> dict[str, list[float]]:
    names = ["dev", "hq", *[f"m{i}" for i in range(nodes)]]
    plans = {n: Plan(allow=tuple(o for o in names if o != n)) for n in names}
    with network(tmp, "sqlite", plans) as net:
        return _measure(net, names[2:], members, posts)


def _measure(
    net: Network, member_nodes: list[str], members: int, posts: int
) -> dict[str, list[float]]:
    dev, hq = net["dev"], net["hq"]
    owner, author = dev.create_user("owner"), hq.create_user("author")
    dev.cli("group", "create", "bench", "--owner", owner.name, "--visibility", "members")
    readers: list[tuple[FedNode, User]] = []
    group_on_hq = resolve(hq, author, f"bench@{dev.domain}")
    assert group_on_hq is not None
    _join(hq, author, group_on_hq["id"])
    for name in member_nodes:
        node = net[name]
        for _ in range(members):
            reader = node.create_user("member")
            found = resolve(node, reader, f"bench@{dev.domain}")
            assert found is not None
            _join(node, reader, found["id"])
            follows(node, reader, hq, author)  # the same accounts follow the author
            readers.append((node, reader))
    times: dict[str, list[float]] = {"group": [], "followers": []}
    for n in range(posts):
        sent = post(hq, author, f"@bench@{dev.domain} group post {n}")
        times["group"].append(_until_everyone_has(readers, sent["uri"]))
        sent = post(hq, author, f"plain post {n}", visibility="private")
        times["followers"].append(_until_everyone_has(readers, sent["uri"]))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=2, help="member nodes (M)")
    parser.add_argument("--members", type=int, default=2, help="members per node (N)")
    parser.add_argument("--posts", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        times = run(args.nodes, args.members, args.posts, Path(tmp))
    total = args.nodes * args.members
    print(f"{total} members on {args.nodes} nodes, {args.posts} posts each way (p50, max):")
    for kind, values in times.items():
        print(
            f"  {kind:>9}: {statistics.median(values) * 1000:7.1f} ms, "
            f"{max(values) * 1000:7.1f} ms (until the last member's home has it)"
        )


if __name__ == "__main__":
    main()
