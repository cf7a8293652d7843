"""What the bus does with a handler's error, on a real nats-server.

Policy, by hand: only a message that cannot be read as the contract says (its body does not decode,
or its subject carries no message type) is poison, dropped at once: it would fail the same way every
time. Any other error in a handler is the handler's (a bug, a missing row): the message stays, is
delivered again after a back-off, and a handler that then succeeds has it. A `KeyError` is no
exception to that (finding of issue 13: `shared/bus.py` treated every KeyError as poison).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import pytest
from nats.js import JetStreamContext

from shared import bus
from shared.ids import utc_now
from shared.schemas import PostExpired, decode_any, encode

STREAM = "DECISIONS"
SUBJECT = "decisions.lyon.post-1.expired"
# After a first failure the bus asks for redelivery in 2 s (`_handle`'s back-off); this is ample.
REDELIVERY_SECONDS = 8.0


def expired(post_id: str = "post-1") -> bytes:
    message = PostExpired(post_id=post_id, agency="lyon", occurred_at=utc_now(), pages=["p"], reason="late")
    return encode(message)


@contextlib.asynccontextmanager
async def jetstream(nats_url: str) -> AsyncIterator[JetStreamContext]:
    nc = await bus.connect(nats_url, bus.hub_client("bus-handler-test"))
    try:
        js = nc.jetstream()
        await bus.ensure_streams(js)
        yield js
    finally:
        await nc.close()


@contextlib.asynccontextmanager
async def consuming(js: JetStreamContext, handler: bus.Handler) -> AsyncIterator[None]:
    spec = bus.ConsumerSpec(stream=STREAM, durable="handler-errors", filter_subject="decisions.>")
    stop = asyncio.Event()
    task = asyncio.create_task(bus.consume(js, spec, handler, stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def unacknowledged(js: JetStreamContext) -> int:
    info = await js.consumer_info(STREAM, "handler-errors")
    return int(info.num_ack_pending or 0) + int(info.num_pending or 0)


@pytest.mark.parametrize(
    "bug",
    [KeyError("page"), LookupError("no such row"), IndexError("list index out of range"), ValueError("x")],
    ids=lambda e: type(e).__name__,
)
async def test_a_handler_bug_does_not_drop_a_message_that_decoded(nats_url: str, bug: Exception) -> None:
    attempts: list[int] = []
    handled: list[str] = []

    async def handler(message: bus.Incoming) -> None:
        event = decode_any(message.subject, message.data)  # it decodes: the message is fine
        attempts.append(message.attempt)
        if message.attempt == 1:
            raise bug
        handled.append(event.post_id)

    async with jetstream(nats_url) as js:
        await js.publish(SUBJECT, expired())
        async with consuming(js, handler):
            assert await wait_for(lambda: handled == ["post-1"], REDELIVERY_SECONDS), attempts
            assert await wait_for(lambda: False, 0.3) is False  # let the ack reach the server
            assert attempts == [1, 2]
            assert await unacknowledged(js) == 0


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        (SUBJECT, b"{not json"),  # does not decode
        (SUBJECT, b'{"post_id": "post-1", "agency": "lyon"}'),  # decodes, but misses fields
        ("decisions.lyon.post-1.unheard-of", expired()),  # a subject outside the contract
    ],
    ids=["malformed", "invalid", "unknown_subject"],
)
async def test_only_a_message_that_does_not_decode_is_poison(
    nats_url: str, subject: str, body: bytes
) -> None:
    attempts: list[int] = []

    async def handler(message: bus.Incoming) -> None:
        attempts.append(message.attempt)
        decode_any(message.subject, message.data)

    async with jetstream(nats_url) as js:
        await js.publish(subject, body)
        async with consuming(js, handler):
            assert await wait_for(lambda: attempts == [1], REDELIVERY_SECONDS)
            # Dropped for good: never delivered again, nothing left waiting on the consumer.
            assert await wait_for(lambda: len(attempts) > 1, 3.0) is False
            assert await unacknowledged(js) == 0
