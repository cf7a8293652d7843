"""The node's advocacy traffic with the hub side (issue #16): its outbox relayed, its news followed.

**Relay** (`relay_advocacy`, after the posts and the inbox's requests): the events written with each
change (services/intake/advocates.py) are published in the order they were made, each deleted from
the outbox only once JetStream holds it (an enrolment names the person, an app password is sealed in
it: the node keeps no copy longer than it must); the first failure stops the pass (the order is
kept). Sent once: each carries the `Nats-Msg-Id` written with it, and `enrolled` and `opted_out`
(one message per pseudonym) `Nats-Expected-Last-Subject-Sequence: 0` besides, so that a resend after
a crash between the stream's acknowledgement and the deletion is dropped however long the outage
lasted. A second
`disconnected` or `app_password` beyond the two-minute window repeats what the hub side already did.

**News**: the agency's ADVOCACY consumer (`advocacy_consumer`) brings the hub's `connected`, the
hub's and dispatcher's `status` and `forgotten` (and the node's own events, acknowledged without a
change); the sealing consumer (`sealing_consumer`) brings the dispatcher's public key, kept here so
that a Bluesky app password is sealed at once.
"""

from __future__ import annotations

import asyncio

import nats.errors
import nats.js.errors
import sqlite_utils
import structlog
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from services.intake.advocates import apply_advocacy_event, store_sealing_key
from shared import bus
from shared.agency_consumers import advocacy_consumer, sealing_consumer
from shared.sealing import Sealer, SealError

__all__ = ["follow_advocacy", "follow_sealing_key", "relay_advocacy"]

log = structlog.get_logger("relais.intake.advocates")

# One message per pseudonym on these subjects: the stream refuses a second copy at any distance.
_ONCE_PER_SUBJECT = ("enrolled", "opted_out")


async def relay_advocacy(nc: NATS, db: sqlite_utils.Database) -> int:
    """Send every unrelayed event, oldest first; stops at the first failure. Returns how many."""
    js = nc.jetstream()
    sent = 0
    rows = db.execute(
        "select seq, advocate, subject, msg_id, event from advocacy_outbox order by seq limit 100"
    ).fetchall()
    for seq, advocate, subject, msg_id, data in rows:
        agency, kind = subject.split(".")[1], subject.rsplit(".", 1)[1]
        alog = log.bind(post_id="", agency=agency, advocate=advocate, event=kind)
        headers = {"Nats-Msg-Id": msg_id}
        if kind in _ONCE_PER_SUBJECT:
            headers["Nats-Expected-Last-Subject-Sequence"] = "0"
        try:
            await js.publish(subject, data.encode(), headers=headers, timeout=5)
        except nats.js.errors.APIError as exc:
            if exc.err_code != bus.ALREADY_STORED:
                alog.warning("advocacy.relay_failed", error=repr(exc))
                return sent
            alog.info("advocacy.already_relayed")
        except (nats.errors.Error, OSError, TimeoutError) as exc:  # the link dropped while sending
            alog.warning("advocacy.relay_failed", error=repr(exc))
            return sent
        with db.atomic():  # the stream holds it: no copy kept here (it may name her, or seal a password)
            db.execute("delete from advocacy_outbox where seq = ?", [seq])
        alog.info("advocacy.relayed")
        sent += 1
    return sent


async def follow_advocacy(
    js: JetStreamContext, db: sqlite_utils.Database, agency: str, stop: asyncio.Event
) -> None:
    async def on_message(message: bus.Incoming) -> None:
        apply_advocacy_event(db, agency, message.subject, message.data)

    await bus.consume(js, advocacy_consumer(agency), on_message, stop)


async def follow_sealing_key(
    js: JetStreamContext, db: sqlite_utils.Database, agency: str, stop: asyncio.Event
) -> None:
    async def on_key(message: bus.Incoming) -> None:
        operation = (message.headers or {}).get("KV-Operation")
        if operation in ("DEL", "PURGE") or not message.data:
            return  # keep the last key: a value sealed with it still opens if the dispatcher keeps it
        public_key = message.data.decode(errors="replace").strip()
        try:
            Sealer(public_key)
        except SealError:  # never seal with what is not a key: a bug upstream
            log.error("advocacy.sealing_key_invalid", agency=agency, sequence=message.sequence)
            return
        if store_sealing_key(db, public_key, message.sequence):
            log.info("advocacy.sealing_key_stored", agency=agency, sequence=message.sequence)

    await bus.consume(js, sealing_consumer(agency), on_key, stop)
