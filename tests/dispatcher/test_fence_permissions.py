"""The fence's bucket on the hub's real NATS users (relais/nats_auth.py): the dispatcher (the hub's
user) holds its lease there; an agency node's user can neither write it (a forged lease of
another layout would stop every dispatcher; a purge would let two layouts run) nor read it.

The expected outcome is the policy written by hand: the agency's allow-list names none of the
bucket's subjects, so every attempt is a permissions violation and the bucket is unchanged.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec
import nats
from nats.aio.msg import Msg

from relais.nats_auth import authorization
from relais.processes import ManagedProcess, nats_spec
from services.dispatcher.fence import BUCKET, RUNNING, Fence, Lease
from services.dispatcher.settings import Settings
from services.dispatcher.shards import Shard
from shared import bus
from tests.harness import free_port

AGENCY = "lyon-part-dieu"
STREAM = f"KV_{BUCKET}"  # spelled out: the bucket's stream and subjects, as JetStream names them

REFUSED_PUBLISHES = [
    f"$KV.{BUCKET}.1-forged",  # a lease of another layout: every dispatcher would wait
    f"$JS.API.STREAM.CREATE.{STREAM}",
    f"$JS.API.STREAM.UPDATE.{STREAM}",
    f"$JS.API.STREAM.DELETE.{STREAM}",
    f"$JS.API.STREAM.PURGE.{STREAM}",
    f"$JS.API.STREAM.MSG.DELETE.{STREAM}",
    f"$JS.API.STREAM.INFO.{STREAM}",
    f"$JS.API.STREAM.MSG.GET.{STREAM}",
    f"$JS.API.DIRECT.GET.{STREAM}",
    f"$JS.API.CONSUMER.CREATE.{STREAM}",
]
REFUSED_SUBSCRIPTIONS = [f"$KV.{BUCKET}.>", "$KV.>"]


async def test_an_agency_user_can_neither_write_nor_read_the_dispatchers_fence(tmp_path: Path) -> None:
    passwords = {bus.HUB_USER: "hub-secret", bus.agency_user(AGENCY): "agency-secret"}
    port = free_port()
    server = ManagedProcess(
        nats_spec(tmp_path / "nats", port, free_port(), authorization(passwords)), tmp_path / "logs"
    )
    server.start()
    server.wait_ready()
    stop = asyncio.Event()
    settings = Settings(
        nats_url="", data_dir=tmp_path, credentials_file=tmp_path / "credentials.json", fence_ttl=30
    )
    fence = Fence(settings)
    hub = await bus.connect(f"nats://hub:hub-secret@127.0.0.1:{port}", bus.hub_client("dispatcher"))
    try:
        js = hub.jetstream()
        assert await fence.acquire(js, stop)  # the dispatcher's user may create and write it
        kv = await js.key_value(BUCKET)
        held = await kv.get(fence.instance)

        refusals: list[str] = []

        async def on_error(exc: Exception) -> None:
            refusals.append(str(exc).lower())

        agency = await nats.connect(
            f"nats://{bus.agency_user(AGENCY)}:agency-secret@127.0.0.1:{port}",
            inbox_prefix=bus.agency_client(AGENCY).inbox_prefix,
            error_cb=on_error,
        )
        forged = Lease(
            **(msgspec.structs.asdict(msgspec.json.decode(held.value or b"", type=Lease)) | {"count": 2})
        )
        try:
            for subject in REFUSED_PUBLISHES:
                await agency.publish(subject, msgspec.json.encode(forged), headers={"KV-Operation": "PURGE"})
            await agency.publish(f"$KV.{BUCKET}.{fence.instance}", b"", headers={"KV-Operation": "PURGE"})

            async def nothing(msg: Msg) -> None:  # pragma: no cover - must never be called
                raise AssertionError(f"the agency received {msg.subject}")

            for subject in REFUSED_SUBSCRIPTIONS:
                await agency.subscribe(subject, cb=nothing)
            await agency.flush()
            expected = [f'publish to "{s.lower()}"' for s in REFUSED_PUBLISHES]
            expected.append(f'publish to "$kv.{BUCKET}.{fence.instance}"')
            expected += [f'subscription to "{s.lower()}"' for s in REFUSED_SUBSCRIPTIONS]
            for _ in range(100):  # the server's refusals come back asynchronously
                if all(any(e in r for r in refusals) for e in expected):
                    break
                await asyncio.sleep(0.1)
            assert [e for e in expected if not any(e in r for r in refusals)] == []
        finally:
            await agency.close()

        # Unchanged: the one lease, at its revision, still running; no forged one.
        assert await kv.keys() == [fence.instance]
        after = await kv.get(fence.instance)
        assert after.revision == held.revision
        lease = msgspec.json.decode(after.value or b"", type=Lease)
        assert (lease.state, lease.shard) == (RUNNING, Shard())
    finally:
        await fence.release()
        await hub.close()
        server.stop()
