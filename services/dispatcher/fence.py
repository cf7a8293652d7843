"""One layout at a time: a dispatcher claims and publishes nothing while another layout's runs.

Shards (`shards.py`) split the targets by a layout (N and the moves). Two instances of different
layouts, or two with the same shard number, may both believe they own a target and post twice;
the handover (`handover.py`) is only safe once the old layout has stopped. So every dispatcher
holds a *lease* in the `dispatcher_fence` key-value bucket (`shared.bus.ensure_lease_bucket`): one
entry per process, its layout, written with a time to live (`RELAIS_DISPATCHER_FENCE_TTL`) and
renewed every sixth of it. A clean stop removes it at once; a SIGKILLed process's entry expires.

Starting, a dispatcher writes its entry as `starting`, then reads every live entry. Another entry
*clashes* with it when its layout differs or its shard number is the same; a clashing entry blocks
it when that one is `running`, or `starting` with an earlier revision (of two that start at once,
the first written wins: the later one's read comes after the earlier one's write, so it sees it).
Blocked, it withdraws its entry, logs `dispatcher.layout_conflict`, answers `/readyz` with
`layout_fence: false`, and tries again; otherwise it marks its entry `running` and goes on.

A process that died on this machine need not be waited for: each dispatcher holds an exclusive
`flock` on a file beside its ledger (`<ledger>.fence`) for as long as it lives, and the kernel
releases it at death. An entry written on the same running kernel (same boot id) about a lock file
that is the same file here (same device and inode) whose lock can be taken is dead: it is ignored
and removed. That lets a crashed shard restart at once, and makes a second process on the same
ledger wait. Anywhere else the TTL decides.

A running dispatcher that cannot renew its lease for two thirds of the TTL (the bus away that
long, or the renewal refused: the lease expired or was removed; a renewal that timed out and was
stored after all is still its own) stops, since a new layout may start
once the lease is gone, and exits non-zero to be restarted, which goes through the fence again.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import secrets
import socket
import time
from pathlib import Path

import msgspec
import nats.errors
import nats.js.errors
import structlog
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from services.dispatcher.settings import Settings
from services.dispatcher.shards import Shard
from shared import bus

__all__ = ["BUCKET", "Fence", "Lease", "LedgerLock", "blocking", "proved_dead"]

log = structlog.get_logger("relais.dispatcher.fence")

BUCKET = "dispatcher_fence"
STARTING, RUNNING = "starting", "running"
WRONG_LAST_SEQUENCE = (10071, 10164)  # JetStream: the entry is not at the revision we hold
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


class Lease(msgspec.Struct, frozen=True, kw_only=True):
    """One dispatcher process's entry: its layout, and how to tell on its machine that it died."""

    instance: str
    number: int
    count: int
    moves: dict[str, int]
    state: str
    host: str  # for people reading the logs; death is proved by the lock, not the name
    pid: int
    boot_id: str  # the kernel it runs on: its lock can be tested only on the same one
    lock_file: str
    lock_device: int
    lock_inode: int

    @property
    def shard(self) -> Shard:
        return Shard(self.number, self.count, self.moves)

    def describe(self) -> str:
        return f"{self.shard.layout} ({self.state}, pid {self.pid} on {self.host})"


def clashes(mine: Lease, other: Lease) -> bool:
    """Could both own one target at once: another layout, or the same shard number twice."""
    return other.instance != mine.instance and (
        other.shard.fleet_layout != mine.shard.fleet_layout or other.number == mine.number
    )


def blocking(mine: Lease, my_revision: int, live: list[tuple[Lease, int]]) -> list[Lease]:
    """The live leases (with their revisions) that keep `mine`, written at `my_revision`, waiting."""
    return [
        other
        for other, revision in live
        if clashes(mine, other) and (other.state == RUNNING or revision < my_revision)
    ]


def boot_id() -> str:
    try:
        return BOOT_ID.read_text().strip()
    except OSError:  # not Linux: no lock is ever proved free, the TTL decides
        return ""


class LedgerLock:
    """An exclusive `flock` on a ledger's lock file (`for_ledger`), held while the process lives."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @classmethod
    def for_ledger(cls, ledger: Path) -> LedgerLock:
        return cls(ledger.with_name(ledger.name + ".fence"))

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> bool:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                return False
            self._fd = fd
        return True

    def identity(self) -> tuple[int, int]:
        stat = os.stat(self.path)
        return stat.st_dev, stat.st_ino

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the last descriptor releases the flock
            self._fd = None


def proved_dead(other: Lease, mine: Lease, lock: LedgerLock) -> bool:
    """`other` ran on this kernel with a lock file that is free now: its process is gone."""
    if not other.boot_id or other.boot_id != mine.boot_id:
        return False
    try:
        stat = os.stat(other.lock_file)
    except OSError:
        return False
    if (stat.st_dev, stat.st_ino) != (other.lock_device, other.lock_inode):
        return False  # another file at that path here (another machine's, a recreated volume)
    if (stat.st_dev, stat.st_ino) == (mine.lock_device, mine.lock_inode):
        return lock.held  # our own ledger's: we hold its lock, so nobody else alive does
    probe = LedgerLock(Path(other.lock_file))
    free = probe.acquire()
    probe.release()
    return free


class Fence:
    """This process's lease: `acquire` before claiming anything, `keep` while running, `release`."""

    def __init__(self, settings: Settings) -> None:
        self.shard = settings.shard
        self.ttl = settings.fence_ttl
        self.lock = LedgerLock.for_ledger(settings.database)
        self.instance = f"{self.shard.number}-{secrets.token_hex(8)}"
        self.held = False  # readiness: running, not waiting for another layout
        self.lost = False
        self._kv: KeyValue | None = None
        self._js: JetStreamContext | None = None
        self._revision = 0
        self._renewed = 0.0  # monotonic time of the last write that held the lease

    def lease(self, state: str) -> Lease:
        device, inode = self.lock.identity()
        return Lease(
            instance=self.instance,
            number=self.shard.number,
            count=self.shard.count,
            moves=dict(self.shard.moves),
            state=state,
            host=socket.gethostname(),
            pid=os.getpid(),
            boot_id=boot_id(),
            lock_file=str(self.lock.path.resolve()),
            lock_device=device,
            lock_inode=inode,
        )

    async def acquire(self, js: JetStreamContext, stop: asyncio.Event) -> bool:
        """Wait until no clashing dispatcher runs, then hold the lease; False if stopped first."""
        self._js = js
        self._kv = await bus.ensure_lease_bucket(js, BUCKET)
        reported: list[str] | None = None
        while not stop.is_set():
            try:
                blockers = await self._attempt(self._kv)
            except (nats.errors.Error, nats.js.errors.Error, TimeoutError) as exc:
                log.warning("dispatcher.fence_unavailable", error=type(exc).__name__)
                blockers = None
            if blockers == []:
                self.held = True
                log.info("dispatcher.fence_held", layout=self.shard.layout, ttl=self.ttl)
                return True
            others = sorted(blockers or [])
            if blockers is not None and others != reported:
                log.warning("dispatcher.layout_conflict", layout=self.shard.layout, others=others)
                reported = others
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=min(1.0, self.ttl / 3))
        return False

    async def _attempt(self, kv: KeyValue) -> list[str]:
        """One try: descriptions of what blocks us, nothing if we now hold the lease."""
        if not self.lock.acquire():  # another live process uses this ledger: the same shard twice
            here = self.lock.identity()
            same = [
                lease for lease, _ in await self._live(kv) if (lease.lock_device, lease.lock_inode) == here
            ]
            return [lease.describe() for lease in same] or [f"another process holding {self.lock.path}"]
        mine = self.lease(STARTING)
        # Unconditional: the key is this process's alone (nobody removes it while our lock is held),
        # and a `starting` entry left by a failed try is simply replaced.
        revision = await self._write(mine, last=None)
        live = []
        for other, other_revision in await self._live(kv):
            if other.instance != self.instance and proved_dead(other, mine, self.lock):
                await self._remove(other.instance, other_revision)
                log.info("dispatcher.fence_dead_removed", other=other.describe())
                continue
            live.append((other, other_revision))
        blockers = blocking(mine, revision, live)
        if blockers:
            await kv.purge(self.instance, msg_ttl=self.ttl)  # withdrawn: it must block nobody
            return [lease.describe() for lease in blockers]
        self._revision = await self._write(self.lease(RUNNING), last=revision)
        self._renewed = time.monotonic()
        return []

    async def _live(self, kv: KeyValue) -> list[tuple[Lease, int]]:
        leases = []
        watcher = await kv.watchall(ignore_deletes=True)
        try:
            async for entry in watcher:
                if entry is None:  # the end of what is stored now
                    break
                if entry.value is None or entry.revision is None:
                    continue
                try:
                    leases.append((msgspec.json.decode(entry.value, type=Lease), entry.revision))
                except msgspec.DecodeError:
                    log.error("dispatcher.fence_unreadable", key=entry.key)
        finally:
            await watcher.stop()  # type: ignore[no-untyped-call]
        return leases

    async def _write(self, lease: Lease, *, last: int | None) -> int:
        """Our entry, with our TTL; given `last`, only if it is still at that revision (it did not
        expire nor was removed meanwhile). Returns its new revision."""
        assert self._js is not None
        ack = await self._js.publish(  # nats-py's `put` and `update` take no TTL
            f"$KV.{BUCKET}.{lease.instance}",
            msgspec.json.encode(lease),
            headers=None if last is None else {"Nats-Expected-Last-Subject-Sequence": str(last)},
            msg_ttl=self.ttl,
            timeout=max(0.5, self.ttl / 12),  # a renewal's wait must not outlast its margin (`keep`)
        )
        return ack.seq

    async def _remove(self, key: str, revision: int) -> None:
        """A dead process's entry, unless it changed since we read it."""
        assert self._js is not None
        with contextlib.suppress(nats.js.errors.APIError):
            await self._js.publish(
                f"$KV.{BUCKET}.{key}",
                headers={
                    "KV-Operation": "PURGE",
                    "Nats-Rollup": "sub",
                    "Nats-Expected-Last-Subject-Sequence": str(revision),
                },
                msg_ttl=self.ttl,
            )

    async def keep(self, stop: asyncio.Event) -> None:
        """Renew the lease every sixth of its TTL. Unrenewed for two thirds of it (the bus away, or
        the renewal refused: the lease expired or was removed), stop the dispatcher: the last third
        is the margin for its stop to take effect before anyone else can see the lease gone."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.ttl / 6)
            if stop.is_set():
                return
            try:
                if not await self._renew():
                    self._lose(stop, "the lease expired or was removed")
                    return
            except nats.js.errors.APIError as exc:
                log.warning("dispatcher.fence_renewal_failed", error=str(exc))
            except (nats.errors.Error, TimeoutError) as exc:
                log.warning("dispatcher.fence_renewal_failed", error=type(exc).__name__)
            if time.monotonic() - self._renewed >= 2 * self.ttl / 3:
                self._lose(stop, "not renewed for two thirds of the TTL")
                return

    async def _renew(self) -> bool:
        """Write our entry again; False if it is ours no more (it expired or was removed).

        A renewal that timed out while the bus was away may still be stored when the connection
        comes back (nats-py sends what it buffered): our entry then stands at a revision we never
        heard of, and the next renewal is refused. Still our own instance's `running` entry, the
        lease is held: its revision is adopted and the renewal made again."""
        try:
            self._revision = await self._write(self.lease(RUNNING), last=self._revision)
        except nats.js.errors.APIError as exc:
            if exc.err_code not in WRONG_LAST_SEQUENCE:
                raise
            assert self._kv is not None
            try:
                entry = await self._kv.get(self.instance)
                held = msgspec.json.decode(entry.value or b"", type=Lease)
            except (nats.js.errors.KeyNotFoundError, msgspec.DecodeError):
                return False
            if entry.revision is None or held.instance != self.instance or held.state != RUNNING:
                return False
            log.info("dispatcher.fence_revision_adopted", layout=self.shard.layout, revision=entry.revision)
            self._revision = await self._write(self.lease(RUNNING), last=entry.revision)
        self._renewed = time.monotonic()
        return True

    def _lose(self, stop: asyncio.Event, reason: str) -> None:
        log.error("dispatcher.fence_lost", layout=self.shard.layout, reason=reason)
        self.held, self.lost = False, True
        stop.set()

    async def release(self) -> None:
        """Remove our entry at once (a clean stop lets a new layout start without waiting)."""
        if self._kv is not None and self.held:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._kv.purge(self.instance, msg_ttl=self.ttl), timeout=2)
            self.held = False
        self.lock.release()
