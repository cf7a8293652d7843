"""The hub side of the inbox for the node's tests: a real nats-server with the deployment's real
users (relais/nats_auth.py), the streams, and each agency's buckets and consumers declared as the
hub side declares them; items and escalations published as the hub side publishes them."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
from nats.aio.client import Client as NATS

from relais.nats_auth import authorization, url_for
from shared import bus
from shared.accounts import ADVISORS_BUCKET, AdvisorAccount, advisor_key
from shared.advocacy.accounts import SEALING_BUCKET
from shared.advocacy.stories import STORIES_BUCKET
from shared.agency_consumers import agency_consumers
from shared.ids import utc_now
from shared.saved_replies import SAVED_REPLIES_BUCKET
from shared.schemas import (
    PAGES_BUCKET,
    REVOKED_BUCKET,
    InboxEscalated,
    InboxItemReceived,
    Message,
    conversation_key,
    encode,
    inbox_msg_id,
    inbox_subject,
)
from tests.intake.test_media_relay import start_nats

LYON, RENNES = "lyon-part-dieu", "rennes-sud"
_item_numbers = itertools.count(1)
# Items are dated one second apart, in the order made: "the oldest first" is then one order.
_FIRST_QUESTION = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


@dataclass
class HubSide:
    nc: NATS
    port: int
    passwords: dict[str, str]

    def agency_url(self, agency: str, port: int | None = None) -> str:
        user = bus.agency_user(agency)
        return url_for(user, self.passwords[user], "127.0.0.1", port or self.port)

    async def publish(self, subject: str, message: Message, msg_id: str) -> int:
        ack = await self.nc.jetstream().publish(subject, encode(message), headers={"Nats-Msg-Id": msg_id})
        return int(ack.seq)

    async def send_item(self, item: InboxItemReceived, msg_id: str | None = None) -> int:
        """As the dispatcher or the hub's webhook publishes it (`msg_id`: another id, as after the
        stream's de-duplication window)."""
        subject = inbox_subject(item.agency, item.conversation, "received")
        return await self.publish(subject, item, msg_id or inbox_msg_id(item.network, item.item_id))

    async def escalate(self, item: InboxItemReceived, level: str, deadline: str) -> int:
        event = InboxEscalated(
            post_id=item.post_id,
            agency=item.agency,
            occurred_at=utc_now(),
            conversation=item.conversation,
            network=item.network,
            page=item.page,
            level=level,
            deadline=deadline,
            calendar="fr-metropole",
        )
        subject = inbox_subject(item.agency, item.conversation, "escalated")
        return await self.publish(subject, event, f"escalated:{item.conversation}:{level}:{utc_now()}")

    async def add_advisor(self, agency: str, username: str, disabled: bool = False, version: int = 1) -> None:
        """An advisor account as the hub replicates it (the node mirrors its own agency's)."""
        account = AdvisorAccount(username, "advisor", agency, "$argon2id$not-a-real-hash", disabled, version)
        kv = await self.nc.jetstream().key_value(ADVISORS_BUCKET)
        await kv.put(advisor_key(agency, username), msgspec.json.encode(account))

    async def assigned_messages(self, agency: str, conversation: str) -> list[tuple[int, bytes]]:
        """Every `assigned` message of the conversation in the INBOX stream: (sequence, body)."""
        js = self.nc.jetstream()
        subject = inbox_subject(agency, conversation, "assigned")
        info = await js.stream_info("INBOX", subjects_filter=subject)
        count = (info.state.subjects or {}).get(subject, 0)
        found: list[tuple[int, bytes]] = []
        if count:
            sub = await js.subscribe(subject, ordered_consumer=True)
            try:
                for _ in range(count):
                    msg = await sub.next_msg(timeout=5)
                    found.append((msg.metadata.sequence.stream, msg.data))
            finally:
                await sub.unsubscribe()
        return found


def item(
    agency: str = LYON, text: str = "Bonjour, quand ouvre le forum ?", root: str = ""
) -> InboxItemReceived:
    """A comment on one of `agency`'s Mastodon posts, in its own thread unless `root` is given."""
    number = next(_item_numbers)
    root_id = root or f"1130{number:04d}"
    return InboxItemReceived(
        post_id="",
        agency=agency,
        occurred_at=utc_now(),
        network="mastodon",
        page=f"{agency}-mastodon",
        item_id=f"1140{number:04d}",
        conversation=conversation_key("mastodon", root_id),
        root_id=root_id,
        parent_id=root_id,
        kind="comment",
        author_name="Samira B.",
        author_id="77",
        text=text,
        created_at=(_FIRST_QUESTION + timedelta(seconds=number)).isoformat().replace("+00:00", "Z"),
        via="poll",
    )


@asynccontextmanager
async def hub_side(root: Path, agencies: tuple[str, ...] = (LYON, RENNES)) -> AsyncIterator[HubSide]:
    passwords = {bus.HUB_USER: "hub-secret", **{bus.agency_user(a): f"{a}-secret" for a in agencies}}
    server, port = start_nats(root, authorization(passwords))
    try:
        nc = await bus.connect(
            url_for(bus.HUB_USER, "hub-secret", "127.0.0.1", port), bus.hub_client("federation")
        )
        try:
            js = nc.jetstream()
            await bus.ensure_streams(js)
            for bucket in (
                PAGES_BUCKET,
                REVOKED_BUCKET,
                ADVISORS_BUCKET,
                SAVED_REPLIES_BUCKET,
                STORIES_BUCKET,
                SEALING_BUCKET,  # the dispatcher's public key, read by sealing_consumer
            ):
                await bus.ensure_key_value(js, bucket)
            for agency in agencies:  # as the hub side does on each agency's first contact
                await bus.ensure_media_bucket(js, agency)
                for spec in agency_consumers(agency):
                    await bus.ensure_consumer(js, spec)
            yield HubSide(nc, port, passwords)
        finally:
            await nc.close()
    finally:
        server.stop()
