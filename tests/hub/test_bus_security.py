"""Bus security with two real agencies: each node's NATS user may publish only its own subjects,
read only through its own consumers and fill only its own media bucket, so agency A can neither
publish as agency B, nor read B's news, nor replace B's attachments."""

from __future__ import annotations

import asyncio

import nats
import nats.errors
import nats.js.errors
import pytest
from nats.js.api import ConsumerConfig

from shared.ids import new_post_id, utc_now
from shared.schemas import PostReceived, Target, encode, media_bucket_name
from tests.harness import RelaisSystem

LYON, RENNES = "lyon-part-dieu", "rennes-sud"


def forged_post(agency: str) -> tuple[str, bytes]:
    post_id = new_post_id(agency)
    post = PostReceived(
        post_id=post_id,
        agency=agency,
        occurred_at=utc_now(),
        author="intrus",
        text="Faux",
        targets=[Target("x", f"{agency}-x")],
    )
    return f"posts.{agency}.{post_id}", encode(post)


async def attempts(relais: RelaisSystem) -> dict[str, object]:
    violations: list[str] = []

    async def on_error(exc: Exception) -> None:
        violations.append(str(exc))

    lyon = await nats.connect(relais.agency_nats_url(LYON), error_cb=on_error)
    hub = await nats.connect(relais.nats_url)
    results: dict[str, object] = {}
    try:
        ljs, hjs = lyon.jetstream(timeout=2), hub.jetstream()
        own_subject, own = forged_post(LYON)
        results["own"] = (await ljs.publish(own_subject, own)).seq > 0
        other_subject, other = forged_post(RENNES)
        with pytest.raises((nats.errors.TimeoutError, nats.errors.NoRespondersError, nats.js.errors.Error)):
            await ljs.publish(other_subject, other)
        results["forged_stored"] = await _stored(hjs, other_subject)
        with pytest.raises((nats.errors.TimeoutError, nats.js.errors.Error)):  # B's own consumer
            sub = await ljs.pull_subscribe(
                f"decisions.{RENNES}.*.*", durable=f"intake-{RENNES}-decisions", stream="DECISIONS"
            )
            await sub.fetch(1, timeout=1)
        with pytest.raises((nats.errors.TimeoutError, nats.js.errors.Error)):  # its own name, B's subjects
            await ljs.add_consumer(
                "DECISIONS",
                ConsumerConfig(
                    name=f"intake-{LYON}-decisions",
                    durable_name=f"intake-{LYON}-decisions",
                    filter_subject=f"decisions.{RENNES}.*.*",
                ),
            )
        with pytest.raises((nats.errors.TimeoutError, nats.js.errors.Error)):  # hub streams are the hub's
            await ljs.delete_stream("POSTS")
        # Attachments: its own bucket is its to fill; B's bucket is out of reach.
        own_bucket = await ljs.create_object_store(media_bucket_name(LYON))
        results["own_media"] = (await own_bucket.put("lyon-affiche", b"affiche")).size == 7
        rennes_bucket = await hjs.create_object_store(media_bucket_name(RENNES))
        await rennes_bucket.put("rennes-affiche", b"original")
        with pytest.raises((nats.errors.TimeoutError, nats.js.errors.Error)):
            await (await ljs.object_store(media_bucket_name(RENNES))).put("rennes-affiche", b"forged")
        await lyon.publish(f"$O.{media_bucket_name(RENNES)}.C.forged", b"forged")  # raw, bypassing the API
        results["rennes_media"] = (await rennes_bucket.get("rennes-affiche")).data
        await lyon.flush()
        await asyncio.sleep(0.2)
    finally:
        await lyon.close()
        await hub.close()
    results["violations"] = violations
    return results


async def _stored(js: nats.js.JetStreamContext, subject: str) -> bool:
    try:
        await js.get_last_msg("POSTS", subject)
    except nats.js.errors.NotFoundError:
        return False
    return True


def test_agency_a_is_refused_by_nats_when_it_acts_as_agency_b(relais: RelaisSystem) -> None:
    results = asyncio.run(attempts(relais))
    assert results["own"] is True
    assert results["forged_stored"] is False
    assert results["own_media"] is True
    assert results["rennes_media"] == b"original"
    violations = " ".join(results["violations"]).lower()  # type: ignore[arg-type]
    for refused in (
        f'publish to "posts.{RENNES}.',
        f"consumer.info.decisions.intake-{RENNES}-decisions",
        f"consumer.create.decisions.intake-{LYON}-decisions.decisions.{RENNES}",
        "stream.delete.posts",
        f"stream.info.obj_{media_bucket_name(RENNES)}",
        f'publish to "$o.{media_bucket_name(RENNES)}.c.forged"',
    ):
        assert refused in violations, refused
