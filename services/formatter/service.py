"""Formatter: consumes targeted posts and publishes their rendered variants, or why they are invalid."""

from __future__ import annotations

import asyncio

import structlog
from nats.js import JetStreamContext

from services.formatter.render import render_post
from services.formatter.settings import Settings
from shared import bus
from shared.ids import utc_now
from shared.metrics import service_app, watch_bus
from shared.networks.options import NetworkOptions
from shared.schemas import PostInvalid, PostRendered, PostTargeted, decode, variants_subject
from shared.web import start_site

log = structlog.get_logger("relais.formatter")

CONSUMER = bus.ConsumerSpec(stream="TARGETS", durable="formatter", filter_subject="targets.*.*")


async def format_post(
    js: JetStreamContext, data: bytes, *, require_alt: bool = True, options: NetworkOptions | None = None
) -> None:
    post = decode(data, PostTargeted)
    plog = log.bind(post_id=post.post_id, agency=post.agency)
    variants, reasons = render_post(post, require_alt=require_alt, options=options)
    # A moderator's edit is rendered again: its own message ids, or de-duplication would drop it.
    suffix = f".{post.revision}" if post.revision else ""
    if reasons:
        invalid = PostInvalid(
            post_id=post.post_id, agency=post.agency, occurred_at=utc_now(), reasons=reasons
        )
        await bus.publish(
            js,
            variants_subject(post.agency, post.post_id, "invalid"),
            invalid,
            f"{post.post_id}.invalid{suffix}",
        )
        plog.info("post.invalid", reasons=reasons)
        return
    rendered = PostRendered(
        post_id=post.post_id,
        agency=post.agency,
        occurred_at=utc_now(),
        author=post.author,
        variants=variants,
        link=post.link,
        schedule_at=post.schedule_at,
        content_warning=post.content_warning,
        media=post.media,
        revision=post.revision,
        edited_by=post.edited_by,
    )
    await bus.publish(
        js,
        variants_subject(post.agency, post.post_id, "rendered"),
        rendered,
        f"{post.post_id}.rendered{suffix}",
    )
    plog.info("post.rendered", variants=len(variants), media=len(post.media))


async def run(settings: Settings, stop: asyncio.Event) -> None:
    link = bus.BusLink()

    async def ready() -> dict[str, bool]:
        return {"nats": link.connected}

    runner = await start_site(service_app(ready), settings.host, settings.port, "RELAIS_FORMATTER_PORT")
    try:
        link.nc = await bus.wait_connected(settings.nats_url, bus.hub_client("formatter"), stop)
        if link.nc is None:
            return
        js = link.nc.jetstream()
        await bus.ensure_streams(js)

        async def handle(message: bus.Incoming) -> None:
            await format_post(
                js, message.data, require_alt=settings.require_alt_text, options=settings.network_options
            )

        await asyncio.gather(bus.consume(js, CONSUMER, handle, stop), watch_bus(link, (CONSUMER,), stop))
    finally:
        await link.close()
        await runner.cleanup()
