"""Origin checks of received activities: the shortcut for the usual spelling of a URI must
never accept what parsing the URI would refuse."""

from __future__ import annotations

import pytest

from inbox.receive import origin_error

SIGNER = "sales.corp.example"


def create(actor: str, activity_id: str, note_id: str) -> dict[str, object]:
    return {"type": "Create", "actor": actor, "id": activity_id, "object": {"id": note_id}}


@pytest.mark.parametrize(
    "uri",
    [
        "https://sales.corp.example/users/bo",
        "http://sales.corp.example/users/bo",
        "https://SALES.corp.example/users/bo",  # host names are case-insensitive
        "https://sales.corp.example:443/users/bo",  # the default port
        "https://sales.corp.example?x=1",
        "https://sales.corp.example#main-key",
    ],
)
def test_the_signers_own_uris_pass(uri: str) -> None:
    assert origin_error(create(uri, uri + "/a", uri + "/n"), SIGNER) is None


@pytest.mark.parametrize(
    "uri",
    [
        "https://sales.corp.example.evil.example/users/bo",  # a longer host
        "https://sales.corp.example@evil.example/users/bo",  # user info before another host
        "https://sales.corp.example:8443/users/bo",  # another port
        "https://evil.example/sales.corp.example/users/bo",
    ],
)
def test_other_origins_fail_wherever_they_appear(uri: str) -> None:
    own = "https://sales.corp.example/users/bo"
    assert origin_error(create(uri, own + "/a", own + "/n"), SIGNER) is not None
    assert origin_error(create(own, uri + "/a", own + "/n"), SIGNER) is not None
    assert origin_error(create(own, own + "/a", uri + "/n"), SIGNER) is not None
