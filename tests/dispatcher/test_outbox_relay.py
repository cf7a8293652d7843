"""The dispatcher's outbox relay against a real nats-server and a real ledger file: every message
is stored once and in the outbox's order, with two batches on their way at a time, when row ids
start again from 1, and after the bus refused part of a batch."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import nats
from nats.js import JetStreamContext
from nats.js.api import StreamConfig

from services.dispatcher.outbox import OutboxRelay
from services.dispatcher.store import Change, Ledger, open_store
from shared import bus
from shared.schemas import deliveries_subject
from tests.waiting import until


def announcements(first: int, count: int) -> list[tuple[str, str, bytes]]:
    """(subject, msg id, data) as the ledger's changes carry them, numbered from `first`."""
    return [
        (deliveries_subject("agence-13", f"post-{n:04d}", "published"), f"msg-{n:04d}", f"{n}".encode())
        for n in range(first, first + count)
    ]


def write(ledger: Ledger, messages: Sequence[tuple[str, str, bytes]]) -> None:
    ledger.apply([Change(msg_id, {}, (subject, msg_id, data)) for subject, msg_id, data in messages])


async def stored_ids(js: JetStreamContext, stream: str) -> list[str]:
    """The `Nats-Msg-Id` of every message in the stream, in the stream's order."""
    last = (await js.stream_info(stream)).state.last_seq
    ids = []
    for seq in range(1, last + 1):
        message = await js.get_msg(stream, seq)
        ids.append((message.headers or {}).get("Nats-Msg-Id", ""))
    return ids


@contextlib.asynccontextmanager
async def relaying(
    nats_url: str, path: Path, forgotten: list[int] | None = None
) -> AsyncIterator[tuple[Ledger, JetStreamContext, OutboxRelay]]:
    """A ledger file and its relay running on the bus (the contract's streams declared); the ids
    the relay forgets are added to `forgotten` when given."""
    ledger = Ledger(open_store(path))
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await bus.ensure_streams(js)

    async def forget(ids: list[int]) -> None:
        if forgotten is not None:
            forgotten.extend(ids)
        ledger.sent(ids)

    relay = OutboxRelay(ledger, nc, forget)
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    try:
        yield ledger, js, relay
    finally:
        stop.set()
        relay.wake.set()
        await asyncio.wait_for(running, 10)
        await nc.close()


async def test_every_message_is_stored_once_in_order_even_when_row_ids_start_again(
    nats_url: str, tmp_path: Path
) -> None:
    forgotten: list[int] = []
    async with relaying(nats_url, tmp_path / "dispatcher.db", forgotten) as (ledger, js, relay):
        first = announcements(0, 600)  # more than two batches: the relay sends two at a time
        write(ledger, first)
        relay.wake.set()

        async def first_forgotten() -> bool:
            return len(forgotten) == 600 and not ledger.outbox(10)

        await until(first_forgotten, what="the first 600 messages stored and forgotten")
        # The outbox is empty: SQLite gives the next rows the ids 1, 2, … again, below every id
        # the relay has handed to the bus so far.
        second = announcements(600, 10)
        write(ledger, second)
        relay.wake.set()

        async def second_forgotten() -> bool:
            return len(forgotten) == 610

        await until(second_forgotten, what="the 10 later messages stored and forgotten")
        assert max(forgotten[600:]) < max(forgotten[:600])  # the case this test is about happened
        assert await stored_ids(js, "DELIVERIES") == [msg_id for _, msg_id, _ in first + second]


async def test_a_batch_the_bus_refused_in_part_is_sent_again_and_nothing_is_stored_twice(
    nats_url: str, tmp_path: Path
) -> None:
    async with relaying(nats_url, tmp_path / "dispatcher.db") as (ledger, js, relay):
        # The 101st message goes where no stream listens yet: the bus has no answer for it.
        messages = announcements(0, 300)
        messages[100] = ("relaytest.late", "msg-late", b"late")
        write(ledger, messages)
        relay.wake.set()
        others = [msg_id for _, msg_id, _ in messages if msg_id != "msg-late"]

        async def others_stored() -> bool:
            return (await js.stream_info("DELIVERIES")).state.messages == len(others)

        await until(others_stored, what="every message but the refused one stored")
        await asyncio.sleep(1.2)  # the relay sends the refused batch again, and again
        waiting = [msg_id for _, _, msg_id, _ in ledger.outbox(300)]
        assert waiting[0] == "msg-0000" and "msg-late" in waiting  # the refused batch is not forgotten

        await js.add_stream(StreamConfig(name="RELAYTEST", subjects=["relaytest.>"]))

        async def outbox_empty() -> bool:
            return not ledger.outbox(10)

        await until(outbox_empty, what="the outbox sent once the stream exists")
        assert await stored_ids(js, "DELIVERIES") == others  # once each, in order, after the resends
        assert await stored_ids(js, "RELAYTEST") == ["msg-late"]


async def test_a_message_no_stream_takes_is_answered_with_an_error_that_names_its_subject(
    nats_url: str,
) -> None:
    """The server answers such a publish with an empty 503 status: the relay's log must say why."""
    nc = await nats.connect(nats_url)
    try:
        await bus.ensure_streams(nc.jetstream())
        stored, refused = await bus.publish_pipelined(
            nc,
            [
                (deliveries_subject("agence-13", "post-1", "published"), b"1", {"Nats-Msg-Id": "m-1"}),
                ("relaytest.nowhere", b"2", {"Nats-Msg-Id": "m-2"}),
            ],
        )
    finally:
        await nc.close()

    assert isinstance(stored, dict) and stored.get("seq") == 1
    assert refused == {
        "error": {"code": 503, "description": "no stream takes relaytest.nowhere (no responders)"}
    }
