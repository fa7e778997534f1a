"""`flurfunk user delete` on one node: the account and its posts disappear on the other
nodes that know it, through one federated Delete of the actor."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.federation_kit import (
    Network,
    Plan,
    arrives,
    follows,
    in_home,
    me,
    network,
    post,
    wait_for,
)


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    plans = {"hq": Plan(allow=("sales",)), "sales": Plan(allow=("hq",))}
    with network(tmp_path_factory.mktemp("user-delete"), "sqlite", plans) as running:
        yield running


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
