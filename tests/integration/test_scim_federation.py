"""The directory deletes a user over SCIM on one node: one federated Delete of the actor
reaches the other node, where the account and its posts disappear; the name stays taken."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from tests.federation_kit import FedNode, Network, Plan, arrives, follows, in_home, post, wait_for
from tests.federation_kit import _wire as wire
from tests.scim_kit import (
    audit,
    directory,
    find_id,
    is_error,
    patch_body,
    scim_token,
    user_body,
)


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    """hq and sales allow each other; started one after the other."""
    tmp = tmp_path_factory.mktemp("scim-delete")
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


def test_a_user_deleted_by_the_directory_disappears_on_the_other_node(net: Network) -> None:
    hq, sales = net["hq"], net["sales"]
    leaver, colleague = hq.create_user("leaver"), sales.create_user("colleague")
    known = follows(sales, colleague, hq, leaver)
    uri = post(hq, leaver, "Tschüss, und danke für alles")["uri"]
    arrives(sales, colleague, uri)

    with directory(hq, scim_token(hq, "okta")) as idp:
        user_id = find_id(idp, leaver.name)
        assert idp.delete(f"/Users/{user_id}").status_code == 204
        is_error(idp.get(f"/Users/{user_id}"), 404)
        is_error(idp.delete(f"/Users/{user_id}"), 404)
        is_error(idp.post("/Users", json=user_body(leaver.name)), 409, "uniqueness")
        assert (
            idp.get("/Users", params={"filter": f'userName eq "{leaver.name}"'}).json()[
                "totalResults"
            ]
            == 0
        )

    assert hq.api(leaver, "GET", "/api/v1/accounts/verify_credentials").status_code == 401
    wait_for(
        lambda: sales.api(colleague, "GET", f"/api/v1/accounts/{known['id']}").status_code == 404,
        f"{hq.handle(leaver)} to disappear on sales",
    )
    assert in_home(sales, colleague, uri) is None
    assert ("scim:okta", "user.delete", leaver.name) in audit(hq)


def test_the_directory_cannot_switch_off_or_delete_the_last_admin(net: Network) -> None:
    hq = net["hq"]
    with directory(hq, scim_token(hq)) as idp:
        admin_id = find_id(idp, "admin")
        off = patch_body({"op": "replace", "path": "active", "value": False})
        is_error(idp.patch(f"/Users/{admin_id}", json=off), 400)
        is_error(idp.delete(f"/Users/{admin_id}"), 400)
        assert idp.get(f"/Users/{admin_id}").json()["active"] is True
    assert hq.password_token("admin", hq.admin_password, "read")
