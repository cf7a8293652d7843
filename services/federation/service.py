"""Federation: the page registry (published to the `pages` bucket) and the targeting of every post.

Each received post is resolved into its pages (explicit, or by selector for national campaigns);
agencies whose pages a campaign reaches are told, through their own decisions subject, so their
node shows it even if it was offline when the campaign was sent.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from datetime import UTC, datetime

import msgspec
import nats.errors
import nats.js.errors
import sqlite_utils
import structlog
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.kv import KeyValue
from ulid import ULID

from services.federation.personal_pages import ADVOCACY, PersonalPages
from services.federation.registry import parse_pages_csv
from services.federation.settings import Settings
from services.federation.store import data_version, import_pages, open_store, page_records
from services.federation.targeting import target_post
from shared import bus
from shared.advocacy.accounts import SEALING_BUCKET
from shared.agency_consumers import agency_consumers
from shared.ids import utc_now
from shared.metrics import service_app, watch_bus
from shared.retention import STREAM_RETENTION
from shared.schemas import (
    HEARTBEAT_SUBJECTS,
    PAGES_BUCKET,
    PageRecord,
    PostAnnounced,
    PostInvalid,
    PostReceived,
    PostTargeted,
    Target,
    decisions_subject,
    decode,
    page_key,
    targets_subject,
    variants_subject,
)
from shared.targeting import CAMPAIGN_AGENCY
from shared.web import start_site

log = structlog.get_logger("relais.federation")

CONSUMER = bus.ConsumerSpec(stream="POSTS", durable="federation", filter_subject="posts.*.*")


class Registry:
    """The registry as read from disk, reloaded when the file changes (an import by the CLI)."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self._db = db
        self._version = -1
        self.pages: dict[str, PageRecord] = {}

    def invalidate(self) -> None:
        """Read the file again at the next refresh: this process wrote it (`data_version` counts only
        other connections' commits)."""
        self._version = -1

    def refresh(self) -> bool:
        version = data_version(self._db)
        if version == self._version:
            return False
        self._version = version
        self.pages = page_records(self._db)
        return True


async def pages_bucket(nc: NATS) -> KeyValue:
    return await bus.ensure_key_value(nc.jetstream(), PAGES_BUCKET)


async def declare_agency_bus(nc: NATS, registry: Registry, stop: asyncio.Event) -> None:
    """Each agency's media bucket and consumers (`shared.agency_consumers`), which its NATS user
    may not create, declared on the agency's first contact (its node's first heartbeat, sent as
    soon as it connects) rather than at registry import: a bucket is a stream, and JetStream
    reserves its byte limit on disk up front, so the 200+ agencies of a registry would reserve
    space for nodes that may never connect. The node's posts with media wait meanwhile (its relay
    retries), then go once; its follower waits for its consumers likewise. An existing bucket is
    brought to the current limits the same way. Only agencies of the registry, which alone have
    NATS users, get them."""
    js = nc.jetstream()
    declared: set[str] = set()
    contacts: asyncio.Queue[str] = asyncio.Queue()

    async def on_heartbeat(msg: Msg) -> None:
        agency = msg.subject.split(".")[1]  # the subject, not the body: only agency-<id> may publish it
        if agency not in declared:
            contacts.put_nowait(agency)

    sub = await nc.subscribe(HEARTBEAT_SUBJECTS, cb=on_heartbeat)
    try:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                agency = await asyncio.wait_for(contacts.get(), 1.0)
                registry.refresh()
                if agency in declared or agency not in {p.agency for p in registry.pages.values()}:
                    continue
                try:
                    await bus.ensure_media_bucket(js, agency)
                    await bus.ensure_key_value(js, SEALING_BUCKET)  # read by sealing_consumer
                    for spec in agency_consumers(agency):
                        await bus.ensure_consumer(js, spec)
                except (nats.errors.Error, TimeoutError) as exc:  # its next heartbeat tries again
                    log.error("agency.bus_failed", agency=agency, error=repr(exc))
                    continue
                declared.add(agency)
                log.info("agency.bus_declared", agency=agency)
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()


async def publish_registry(pages: dict[str, PageRecord], kv: KeyValue) -> int:
    """Put every page whose record changed; returns how many were written."""
    written = 0
    for record in pages.values():
        key = page_key(record.agency, record.page)
        value = msgspec.json.encode(record)
        with contextlib.suppress(nats.js.errors.KeyNotFoundError):
            if (await kv.get(key)).value == value:
                continue
        await kv.put(key, value)
        written += 1
    return written


def forged(subject: str, post: PostReceived) -> str | None:
    """Why a post is not what its subject says, or None. NATS pins only the subject to the agency's
    user: the body could name another agency or post id, and be taken for that agency's."""
    _, agency, post_id = subject.split(".")
    if post.agency != agency or post.post_id != post_id:
        return f"names {post.agency}/{post.post_id} but came on {subject}"
    if agency != CAMPAIGN_AGENCY and not post_id.startswith(f"{agency}-"):
        return f"post id {post_id} is not one of {agency}'s"
    return None


def older_than_posts_retention(post_id: str, now: datetime) -> str | None:
    """Why a post may not be taken again, or None. Its id's ULID says when it was accepted; past the
    POSTS stream's max_age a first copy may have aged out of the stream, which then no longer
    refuses a resend: a second copy, refused so that it is never published twice (the agency's relay
    already refuses to send one older than the exactly-once window; this holds whatever its clock
    or version)."""
    max_age = STREAM_RETENTION["POSTS"].max_age
    try:
        accepted = ULID.from_str(post_id.rsplit("-", 1)[-1]).datetime
    except ValueError:
        return None  # not a ULID id: nothing to tell its age by
    if max_age is None or now - accepted <= max_age:
        return None
    return (
        f"accepted {accepted:%Y-%m-%d}, more than {max_age.days} days ago (the hub's retention of "
        "posts): a copy may already have been published, so it is not taken again"
    )


async def target(js: JetStreamContext, registry: Registry, subject: str, data: bytes) -> None:
    post = decode(data, PostReceived)
    plog = log.bind(post_id=post.post_id, agency=post.agency)
    if reason := forged(subject, post):
        plog.error("post.forged", subject=subject, reason=reason)  # dropped: whose would it be?
        return
    registry.refresh()
    too_old = older_than_posts_retention(post.post_id, datetime.now(UTC))
    result = target_post(post, registry.pages)
    if too_old or result.reasons:
        invalid = PostInvalid(
            post_id=post.post_id,
            agency=post.agency,
            occurred_at=utc_now(),
            reasons=[too_old] if too_old else result.reasons,
        )
        subject = variants_subject(post.agency, post.post_id, "invalid")
        await bus.publish(js, subject, invalid, f"{post.post_id}.invalid")
        plog.info("post.invalid", reasons=result.reasons)
        return
    by_agency: dict[str, list[Target]] = defaultdict(list)
    for t in result.targets:
        if t.agency != post.agency:
            by_agency[t.agency].append(Target(t.network, t.page))
    for agency, pages in by_agency.items():
        announced = PostAnnounced(
            post_id=post.post_id,
            agency=agency,
            occurred_at=utc_now(),
            origin_agency=post.agency,
            author=post.author,
            text=post.text,
            targets=pages,
            link=post.link,
            schedule_at=post.schedule_at,
        )
        await bus.publish(
            js,
            decisions_subject(agency, post.post_id, "announced"),
            announced,
            f"{post.post_id}.announced.{agency}",
        )
    targeted = PostTargeted(
        post_id=post.post_id,
        agency=post.agency,
        occurred_at=utc_now(),
        author=post.author,
        text=post.text,
        targets=result.targets,
        link=post.link,
        schedule_at=post.schedule_at,
        policy=post.policy,
        content_warning=post.content_warning,
        media=post.media,
        title=post.title,
        tags=post.tags,
        reply_to=post.reply_to,
        share=post.share,
    )
    await bus.publish(js, targets_subject(post.agency, post.post_id), targeted, f"{post.post_id}.targeted")
    plog.info("post.targeted", pages=len(result.targets), agencies=len(by_agency) + 1)


async def keep_registry_published(
    registry: Registry, kv: KeyValue, stop: asyncio.Event, lock: asyncio.Lock | None = None
) -> None:
    """`lock`: held by whatever else writes the registry and its bucket (personal pages), so that a
    page removed meanwhile is never put back from an older read."""
    lock = lock or asyncio.Lock()
    while not stop.is_set():
        async with lock:
            if registry.refresh():
                log.info(
                    "registry.published",
                    pages=len(registry.pages),
                    written=await publish_registry(registry.pages, kv),
                )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)


async def run(settings: Settings, stop: asyncio.Event) -> None:
    db = open_store(settings.database)
    if settings.pages_csv:
        rows = parse_pages_csv(settings.pages_csv.read_text(encoding="utf-8"), calendars=settings.calendars)
        log.info("registry.imported", pages=import_pages(db, rows), file=str(settings.pages_csv))
    registry = Registry(db)
    link = bus.BusLink()

    async def ready() -> dict[str, bool]:
        return {"nats": link.connected, "database": bool(db.execute("select 1").fetchone())}

    runner = await start_site(service_app(ready), settings.host, settings.port, "RELAIS_FEDERATION_PORT")
    try:
        link.nc = await bus.wait_connected(settings.nats_url, bus.hub_client("federation"), stop)
        if link.nc is None:
            return
        js = link.nc.jetstream()
        await bus.ensure_streams(js)
        kv = await pages_bucket(link.nc)

        async def on_post(message: bus.Incoming) -> None:
            await target(js, registry, message.subject, message.data)

        lock = asyncio.Lock()
        agencies = Registry(db)

        def registry_changed() -> None:
            registry.invalidate()
            agencies.invalidate()

        personal = PersonalPages(db, kv, lock, registry_changed)
        async with asyncio.TaskGroup() as group:
            group.create_task(keep_registry_published(registry, kv, stop, lock))
            group.create_task(declare_agency_bus(link.nc, agencies, stop))
            group.create_task(bus.consume(js, CONSUMER, on_post, stop))
            group.create_task(bus.consume(js, ADVOCACY, personal.on_event, stop))
            group.create_task(watch_bus(link, (CONSUMER, ADVOCACY), stop))
    finally:
        await link.close()
        await runner.cleanup()
        db.close()
