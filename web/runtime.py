"""The background side of a serve process: federation context, delivery and inbox workers,
and the allowlist refresher — started with the app and stopped with it."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from federation.allowlist import PreviewHosts
from federation.client import FederationClient
from inbox import csv_import_run
from inbox.processor import InboxProcessor
from models.broker import broker_for
from models.db import Database
from models.settings import Settings
from outbox import (
    emoji_catalogue,
    emoji_fetch,
    events,
    link_preview,
    media_processing,
    periodic,
    remote_media,
    retention,
    trends,
)
from outbox.allowlist import REFRESH_SECONDS, LiveAllowlist
from outbox.claims import release_all
from outbox.context import Federation
from outbox.emoji_catalogue import LiveEmojis
from outbox.emoji_fetch import EmojiFetcher
from outbox.link_preview import LinkPreviewFetcher
from outbox.loop import work_until
from outbox.media_processing import MediaProcessor
from outbox.push_sender import PushSender
from outbox.push_subscriptions import push_hosts, vapid_key
from outbox.queue import DELIVER, NUDGE, PROCESS_INBOX, queue_name
from outbox.remote_media import RemoteMediaFetcher
from outbox.render import instance_key_id
from outbox.signing import identity, instance_key_pair
from outbox.worker import DeliveryWorker
from web import metrics, streaming, token_watch

if TYPE_CHECKING:
    from outbox.enqueue import Enqueuer

log = logging.getLogger("flurfunk.runtime")


def client_cert(settings: Settings) -> tuple[str, str] | None:
    """The certificate this node presents to peers that require mutual TLS."""
    if settings.tls_client_cert and settings.tls_client_key:
        return settings.tls_client_cert, settings.tls_client_key
    return None


async def build_federation(settings: Settings, db: Database) -> Federation:
    allowlist = LiveAllowlist(db)
    await allowlist.refresh()
    client = FederationClient(
        allowlist,
        connect_to=dict(settings.connect_to),
        ca_bundle=settings.ca_bundle or None,
        client_cert=client_cert(settings),
    )
    private_pem, public_pem = await instance_key_pair(db)
    broker = broker_for(settings)
    events.connect(db, broker)  # every commit through `db` publishes its stream events
    emojis = LiveEmojis(db)
    await emojis.refresh()
    preview_hosts = PreviewHosts(allowlist, settings.preview_hosts)
    preview_client = FederationClient(
        preview_hosts,
        connect_to=dict(settings.connect_to),
        ca_bundle=settings.ca_bundle or None,
        timeout=link_preview.TIME_LIMIT,
        per_host_connections=4,
    )
    return Federation(
        settings=settings,
        db=db,
        allowlist=allowlist,
        client=client,
        instance=identity(instance_key_id(settings), private_pem),
        instance_public_pem=public_pem,
        broker=broker,
        emojis=emojis,
        preview_hosts=preview_hosts,
        preview_client=preview_client,
    )


async def send_pushes(settings: Settings, db: Database, stop: asyncio.Event) -> None:
    """Send due Web Push rows until `stop`; push services are reached through the same
    outbound client as peers, with PUSH_HOSTS as its allowlist."""
    hosts = push_hosts(settings)
    client = FederationClient(
        lambda: hosts, connect_to=dict(settings.connect_to), ca_bundle=settings.ca_bundle or None
    )
    sender = PushSender(db, client, settings, vapid_key(settings))
    try:
        # Polled: a notification is written by many code paths that only hold a session.
        await work_until(stop, asyncio.Event(), sender.step, name="push", batch=sender.batch)
    finally:
        await client.aclose()


def lease(settings: Settings) -> timedelta:
    return timedelta(seconds=settings.claim_lease_seconds)


async def every(
    seconds: float, stop: asyncio.Event, job: Callable[[], Awaitable[object]], name: str
) -> None:
    while not stop.is_set():
        try:
            await job()
        except Exception:  # a periodic job must survive one failure; it runs again soon
            log.exception("%s failed", name)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)


@contextlib.asynccontextmanager
async def running(
    settings: Settings, db: Database, *, in_process_workers: bool
) -> AsyncIterator[Federation]:
    """Federation for the app; with `in_process_workers`, also deliver from this process,
    else with Redis, wake the workers with a job after each commit that queued work."""
    fed = await build_federation(settings, db)
    emojis = fed.emojis
    assert emojis is not None
    assert fed.preview_client is not None
    assert fed.preview_hosts is not None
    vapid_key(settings)  # generated into DATA_DIR on the first start, before any app asks
    stop = asyncio.Event()
    media = RemoteMediaFetcher(
        db, fed.client, settings, fed.preview_client, sign=fed.instance.signer()
    )
    processor = MediaProcessor(db, settings)
    tasks = [
        asyncio.create_task(
            every(REFRESH_SECONDS, stop, fed.allowlist.refresh, "allowlist refresh")
        ),
        asyncio.create_task(every(emoji_catalogue.REFRESH_SECONDS, stop, emojis.refresh, "emoji")),
        # In every web process: they hold the media folder that serves the copies.
        asyncio.create_task(
            every(
                emoji_fetch.INTERVAL,
                stop,
                EmojiFetcher(db, fed.client, settings, emojis).step,
                "emoji fetch",
            )
        ),
        # Remote files and link previews: also in every web process, for the same reason.
        asyncio.create_task(
            every(
                remote_media.INTERVAL,
                stop,
                media.step,
                "remote media",
            )
        ),
        # Uploads waiting for processing (a PDF's preview) and unattached ones a day old:
        # in every web process too, which hold the media folder (workers need not).
        asyncio.create_task(
            every(media_processing.INTERVAL, stop, processor.step, "media processing")
        ),
        asyncio.create_task(
            every(
                media_processing.SWEEP_EVERY,
                stop,
                lambda: media_processing.remove_unattached(db, settings),
                "unattached media sweep",
            )
        ),
        asyncio.create_task(
            every(
                remote_media.FORGET_EVERY,
                stop,
                lambda: remote_media.forget_unused(db, settings),
                "remote media sweep",
            )
        ),
        asyncio.create_task(
            every(
                link_preview.INTERVAL,
                stop,
                LinkPreviewFetcher(fed, fed.preview_client, fed.preview_hosts, media).step,
                "link previews",
            )
        ),
        asyncio.create_task(
            every(
                token_watch.WATCH_SECONDS,
                stop,
                lambda: token_watch.end_dead_streams(db, fed.broker),
                "token watch",
            )
        ),
    ]
    jobs: Enqueuer | None = None
    if not in_process_workers and settings.redis_url:
        # Imported here: a node without Redis never loads redis-py and arq.
        from models.redis_broker import RedisBroker
        from outbox.enqueue import Enqueuer, redis_client

        nudges = fed.broker.wire_name(NUDGE) if isinstance(fed.broker, RedisBroker) else None
        jobs = Enqueuer(redis_client(settings), queue_name(settings), nudges)
        fed.wake_deliveries = functools.partial(jobs.wake, DELIVER)
        fed.wake_inbox = functools.partial(jobs.wake, PROCESS_INBOX)
    if in_process_workers:
        # Without Redis this is the only process working the database: what is claimed in it
        # was held by a process that died (kill -9, power loss) and is due at once.
        freed = await release_all(db)
        if freed:
            log.warning("freed %d row(s) claimed before a crash", freed)
        deliveries = DeliveryWorker(
            db, fed.client, settings, lease=lease(settings), observe=metrics.delivery_outcome
        )
        fed.wake_deliveries = deliveries.wake
        inbox = InboxProcessor(fed, lease=lease(settings))
        fed.wake_inbox = inbox.wake
        tasks += [
            asyncio.create_task(deliveries.run(stop)),
            asyncio.create_task(inbox.run(stop)),
            asyncio.create_task(send_pushes(settings, db, stop)),
            asyncio.create_task(
                every(periodic.INTERVAL, stop, lambda: periodic.publish_scheduled(fed), "scheduled")
            ),
            asyncio.create_task(
                every(periodic.INTERVAL, stop, lambda: periodic.close_polls(fed), "polls")
            ),
            asyncio.create_task(
                every(periodic.INTERVAL, stop, lambda: periodic.build_archives(fed), "archives")
            ),
            asyncio.create_task(
                every(periodic.INTERVAL, stop, lambda: csv_import_run.run_pending(fed), "imports")
            ),
            asyncio.create_task(
                every(
                    periodic.INTERVAL,
                    stop,
                    lambda: periodic.report_announcement_reads(fed),
                    "announcement reads",
                )
            ),
            asyncio.create_task(
                every(settings.trends_interval, stop, lambda: trends.refresh(fed), "trends")
            ),
            asyncio.create_task(
                every(
                    retention.INTERVAL, stop, lambda: retention.sweep(fed, stop=stop), "retention"
                )
            ),
        ]
    # What start-up built lives as long as the process: keep it out of the collector's full
    # passes, which otherwise cost ~80 ms each and ~30 % of the inbox's CPU (bench/).
    gc.collect()
    gc.freeze()
    keep_signals = streaming.end_streams_on_signal(fed.broker)
    try:
        yield fed
    finally:
        keep_signals()
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        if jobs is not None:
            await jobs.close()
        await fed.client.aclose()
        await fed.preview_client.aclose()
        await events.disconnect(db)  # what committed is published before the broker closes
        await fed.broker.close()
