"""`flurfunk user delete` on one node: the account and its posts disappear on the other
nodes that know it, through one federated Delete of the actor."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from tests.federation_kit import (
    FedNode,
    Network,
    Plan,
    arrives,
    follows,
    in_home,
    me,
    post,
    wait_for,
)
from tests.federation_kit import _wire as wire


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    """hq and sales allow each other; started one after the other (a busy machine starts two
    nodes at once slower than the kit waits for one)."""
    tmp = tmp_path_factory.mktemp("user-delete")
    plans = {"hq": Plan(allow=("sales",)), "sales": Plan(allow=("hq",))}
    nodes: dict[str, FedNode] = {}
    for name in plans:
        (tmp / name).mkdir()
        url = f"sqlite+aiosqlite:///{tmp / name / 'flurfunk.db'}"
        nodes[name] = FedNode(data_dir=tmp / name, database_url=url, name=name)
    wire(nodes, plans)
    with contextlib.ExitStack() as stack:
        for node in nodes.values():
            stack.callback(node.stop)
            node.start()
        yield Network(nodes)


def test_deleted_user_disappears_on_the_other_node(net: Network) -> None:
    hq, sales = net["hq"], net["sales"]
    leaver, colleague = hq.create_user("leaver"), sales.create_user("colleague")
    account = follows(sales, colleague, hq, leaver)
    uri = post(hq, leaver, "my last day")["uri"]
    arrives(sales, colleague, uri)

    deleted = hq.cli("user", "delete", leaver.name, "--yes")
    assert "goes to 1 node inbox(es)" in deleted.stdout

    wait_for(
        lambda: sales.api(colleague, "GET", f"/api/v1/accounts/{account['id']}").status_code == 404,
        f"{hq.handle(leaver)} to disappear on sales",
    )
    assert in_home(sales, colleague, uri) is None
    assert me(sales, colleague)["following_count"] == 0
    again = hq.cli("user", "delete", leaver.name, "--yes", check=False)
    assert again.returncode == 2
    assert "no local user" in again.stderr
