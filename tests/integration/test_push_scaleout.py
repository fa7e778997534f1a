"""Web Push on a scaled-out node: the web processes only write the notification, and a
`flurfunk worker` (PostgreSQL and Redis) encrypts and sends it to the phone's push service."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.federation_kit import Network, Plan, wait_for
from tests.integration.test_push import Phone, Receiver, subscribe
from tests.scale_kit import SHARED_REDIS, scaled, scaled_network

pytestmark = pytest.mark.postgres

REDIS_DB = 14  # this file's Redis database


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    service = Receiver()
    yield service
    service.close()


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory, receiver: Receiver) -> Iterator[Network]:
    plans = {"hq": Plan(env={"FLURFUNK_PUSH_HOSTS": f"127.0.0.1:{receiver.port}"})}
    redis = {"hq": f"{SHARED_REDIS}/{REDIS_DB}"}
    with scaled_network(tmp_path_factory.mktemp("push-scaled"), plans, redis) as running:
        yield running


def test_a_worker_pushes_a_mention_to_the_phone(net: Network, receiver: Receiver) -> None:
    hq = scaled(net, "hq")
    ada, ben = hq.create_user("ada"), hq.create_user("ben")
    phone = Phone.new()
    path = f"/push/{ada.name}"
    answer = subscribe(hq, ada, receiver.endpoint(path), phone, standard=True, mention=True)
    assert answer.status_code == 200, answer.text

    hq.api(
        ben, "POST", "/api/v1/statuses", data={"status": f"@{ada.name} the release notes are up"}
    )

    message = phone.decrypt(receiver.next(path))
    assert message["notification_type"] == "mention"
    assert message["access_token"] == ada.token
    assert "release notes" in message["body"]
    assert hq.workers, "the node runs a separate worker"


def test_a_gone_subscription_is_dropped_by_the_worker(net: Network, receiver: Receiver) -> None:
    hq = scaled(net, "hq")
    cleo, dan = hq.create_user("cleo"), hq.create_user("dan")
    path = f"/gone/{cleo.name}"
    subscribe(hq, cleo, receiver.endpoint(path), Phone.new(), standard=True, mention=True)

    hq.api(dan, "POST", "/api/v1/statuses", data={"status": f"@{cleo.name} lunch?"})

    receiver.next(path)  # the push service answers 410 Gone
    wait_for(
        lambda: hq.api(cleo, "GET", "/api/v1/push/subscription").status_code == 404,
        "the gone subscription to be deleted",
    )
