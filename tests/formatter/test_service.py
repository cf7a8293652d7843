"""The formatter service on a real nats-server: a targeted post in, its rendering out, with the
post's policy, content warning, media and facets, and its alt-text setting from the environment."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import nats
import nats.js.errors
import pytest
from nats.aio.client import Client as NATS

from services.formatter.service import run
from services.formatter.settings import Settings
from shared import bus
from shared.schemas import (
    MediaRef,
    PageTarget,
    PostInvalid,
    PostRendered,
    PostTargeted,
    decode,
    targets_subject,
    variants_subject,
)
from tests.harness import free_port

AGENCY = "lyon-part-dieu"
LONG = "Atelier CV mardi 14 h à la médiathèque, venez avec vos questions. #emploi " * 5
IMAGE = MediaRef(id=f"{AGENCY}-01M", content_type="image/jpeg", size=4096, sha256="cd" * 32)


@pytest.fixture
async def hub(nats_url: str) -> AsyncIterator[NATS]:
    nc = await nats.connect(nats_url)
    await bus.ensure_streams(nc.jetstream())
    try:
        yield nc
    finally:
        await nc.close()


@contextlib.asynccontextmanager
async def formatter(env: dict[str, str]) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(
        run(Settings.from_env({**env, "RELAIS_FORMATTER_PORT": str(free_port())}), stop)
    )
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def outcome(nc: NATS, post_id: str, kind: str) -> bytes:
    js = nc.jetstream()
    for _ in range(400):
        with contextlib.suppress(nats.js.errors.NotFoundError):
            msg = await js.get_last_msg("VARIANTS", variants_subject(AGENCY, post_id, kind))
            assert msg.data is not None
            return msg.data
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {kind} message for {post_id}")


def post(post_id: str, **fields: Any) -> PostTargeted:
    return PostTargeted(
        post_id=post_id,
        agency=AGENCY,
        occurred_at="2026-03-02T09:00:00Z",
        author="claire",
        text=LONG,
        targets=[
            PageTarget("x", f"{AGENCY}-x", AGENCY, "Europe/Paris"),
            PageTarget("bluesky", f"{AGENCY}-bluesky", AGENCY, "Europe/Paris"),
            PageTarget("mastodon", f"{AGENCY}-mastodon", AGENCY, "Europe/Paris"),
        ],
        **fields,
    )


async def test_the_formatter_renders_with_the_posts_policy_media_and_facets(nats_url: str, hub: NATS) -> None:
    js = hub.jetstream()
    targeted = post(
        f"{AGENCY}-01A",
        policy={"x": "truncate"},
        content_warning="Offre",
        media=[IMAGE],  # no alt text: this deployment does not require it
    )
    async with formatter({"RELAIS_NATS_URL": nats_url, "RELAIS_REQUIRE_ALT_TEXT": "false"}):
        await bus.publish(js, targets_subject(AGENCY, targeted.post_id), targeted, targeted.post_id)
        rendered = decode(await outcome(hub, targeted.post_id, "rendered"), PostRendered)
    variants = {v.network: v for v in rendered.variants}
    assert len(variants["x"].parts) == 1 and "…" in variants["x"].parts[0]  # truncated, as asked
    assert len(variants["bluesky"].parts) == 2  # threaded, Bluesky's default
    assert all(facets and facets[0]["index"]["byteEnd"] > 0 for facets in variants["bluesky"].facets)
    assert rendered.media == [IMAGE] and rendered.content_warning == "Offre"


async def test_alt_text_is_required_by_default(nats_url: str, hub: NATS) -> None:
    js = hub.jetstream()
    targeted = post(f"{AGENCY}-01B", media=[IMAGE])
    async with formatter({"RELAIS_NATS_URL": nats_url}):
        await bus.publish(js, targets_subject(AGENCY, targeted.post_id), targeted, targeted.post_id)
        invalid = decode(await outcome(hub, targeted.post_id, "invalid"), PostInvalid)
    assert len(invalid.reasons) == 3 and all("(alt_text_required)" in r for r in invalid.reasons)


async def test_an_edit_needing_more_thread_parts_than_the_limit_makes_the_post_invalid(
    nats_url: str, hub: NATS
) -> None:
    """A moderator's edit is rendered again: past `RELAIS_MAX_THREAD_PARTS` it is invalid with that
    reason, by the same rule intake and the preview apply (eleven 250-character paragraphs: eleven
    X parts)."""
    js = hub.jetstream()
    eleven = "\n\n".join((f"Paragraphe {n:02d} : " + "emploi " * 40)[:250].rstrip() for n in range(1, 12))
    edited = msgspec.structs.replace(
        post(f"{AGENCY}-01E", revision=1, edited_by="moderator@hub"), text=eleven
    )
    async with formatter({"RELAIS_NATS_URL": nats_url}):
        await bus.publish(js, targets_subject(AGENCY, edited.post_id), edited, f"{edited.post_id}.1")
        invalid = decode(await outcome(hub, edited.post_id, "invalid"), PostInvalid)
    x_reasons = [r for r in invalid.reasons if r.startswith(f"{AGENCY}-x:")]
    assert len(x_reasons) == 1 and "(too_many_parts)" in x_reasons[0]
    assert "11 parts" in x_reasons[0] and "limit of 10" in x_reasons[0]

    allowed = msgspec.structs.replace(edited, post_id=f"{AGENCY}-01F")
    async with formatter({"RELAIS_NATS_URL": nats_url, "RELAIS_MAX_THREAD_PARTS": "20"}):
        await bus.publish(js, targets_subject(AGENCY, allowed.post_id), allowed, f"{allowed.post_id}.1")
        rendered = decode(await outcome(hub, allowed.post_id, "rendered"), PostRendered)
    assert len({v.network: v for v in rendered.variants}["x"].parts) == 11
