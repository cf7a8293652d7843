"""Helpers of the inbox tests: incoming traffic on the sandbox, a tap on `inbox.>`, the ledger's rows."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from typing import Any, TypeVar

import nats

from shared.schemas import InboxItemReceived, Message, decode
from tests.dispatcher.fleet import DeliveryFleet
from tests.harness import http

M = TypeVar("M", bound=Message)


def generate(fleet: DeliveryFleet, account: str, **body: Any) -> list[dict[str, Any]]:
    """People write to an account (the sandbox's `/_sandbox/incoming`; Mastodon unless `network`)."""
    status, answer = http(
        "POST", f"{fleet.sandbox_url}/_sandbox/incoming", {"network": "mastodon", "account": account} | body
    )
    assert status == 201, answer
    items: list[dict[str, Any]] = answer["items"]
    return items


def notify_again(fleet: DeliveryFleet, account: str, network: str = "mastodon") -> list[dict[str, Any]]:
    """The network lists every item the account had once more (`/_sandbox/incoming/again`)."""
    status, answer = http(
        "POST", f"{fleet.sandbox_url}/_sandbox/incoming/again", {"network": network, "account": account}
    )
    assert status == 201, answer
    items: list[dict[str, Any]] = answer["items"]
    return items


def purge(fleet: DeliveryFleet, account: str, notification_ids: list[str]) -> None:
    body = {"network": "mastodon", "account": account, "notification_ids": notification_ids}
    status, answer = http("POST", f"{fleet.sandbox_url}/_sandbox/incoming/purge", body)
    assert status == 200 and answer["purged"] == len(notification_ids), answer


class BusTap:
    """Every message published on `subjects` (`inbox.>`) while it runs, as a plain NATS subscriber sees
    it: each publish, even one JetStream would drop as a duplicate of an earlier `Nats-Msg-Id`. It
    follows the server through restarts (the client reconnects)."""

    def __init__(self, nats_url: str, subjects: str = "inbox.>") -> None:
        self._url = nats_url
        self._subjects = subjects
        self._lock = threading.Lock()
        self._seen: list[tuple[str, bytes]] = []
        self._arrivals: list[float] = []  # time.monotonic() of each message
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._nc: Any = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._listen()), daemon=True)

    def __enter__(self) -> BusTap:
        self._thread.start()
        assert self._ready.wait(20), "the tap could not subscribe"
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(20)

    async def _listen(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        nc = self._nc = await nats.connect(self._url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)

        async def keep(msg: Any) -> None:
            with self._lock:
                self._seen.append((msg.subject, msg.data))
                self._arrivals.append(time.monotonic())

        await nc.subscribe(self._subjects, cb=keep)
        await nc.flush()
        self._ready.set()
        await self._stop.wait()
        await nc.close()

    def wait_subscribed(self, timeout: float = 30.0) -> None:
        """Until the tap is connected again with its subscription (after the server restarted): a
        plain subscriber misses what is published while it is away."""
        assert self._loop is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._nc.is_connected:
                flushed = asyncio.run_coroutine_threadsafe(self._nc.flush(timeout=2), self._loop)
                try:
                    flushed.result(5)
                    return
                except Exception:  # reconnecting again: look once more
                    pass
            time.sleep(0.1)
        raise AssertionError("the tap did not reconnect")

    def messages(self) -> list[tuple[str, InboxItemReceived]]:
        with self._lock:
            seen = list(self._seen)
        return [(subject, decode(data, InboxItemReceived)) for subject, data in seen]

    def decoded(self, kind: type[M]) -> list[tuple[str, M]]:
        with self._lock:
            seen = list(self._seen)
        return [(subject, decode(data, kind)) for subject, data in seen]

    def first_and_last(self) -> tuple[float, float]:
        """When the first and the last message arrived (time.monotonic())."""
        with self._lock:
            return self._arrivals[0], self._arrivals[-1]

    def raw(self) -> bytes:
        with self._lock:
            return b"\n".join(data for _, data in self._seen)


def ledger_inbox(fleet: DeliveryFleet) -> list[dict[str, Any]]:
    """The dispatcher ledger's inbox rows (read-only), in the order they were stored."""
    with sqlite3.connect(f"file:{fleet.data_dir / 'dispatcher.db'}?mode=ro", uri=True, timeout=10) as db:
        db.row_factory = sqlite3.Row
        try:
            rows = db.execute("select * from inbox_items order by rowid").fetchall()
        except sqlite3.OperationalError:
            return []
    return [dict(row) | {"masked": json.loads(row["masked"])} for row in rows]


def outbox_size(fleet: DeliveryFleet) -> int:
    with sqlite3.connect(f"file:{fleet.data_dir / 'dispatcher.db'}?mode=ro", uri=True, timeout=10) as db:
        return int(db.execute("select count(*) from outbox").fetchone()[0])


def ledger_bytes(fleet: DeliveryFleet) -> bytes:
    """Every byte of the dispatcher's ledger files (database, WAL): freed pages included."""
    return b"".join(path.read_bytes() for path in sorted(fleet.data_dir.glob("dispatcher.db*")))
