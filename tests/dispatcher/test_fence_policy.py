"""The fence's rule, written by hand (services/dispatcher/fence.py): which live lease keeps a
starting dispatcher waiting, and when a lease on this machine is proved dead by its free lock."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from services.dispatcher.fence import RUNNING, STARTING, Lease, LedgerLock, blocking, proved_dead
from services.dispatcher.settings import Settings

MY_REVISION = 10
EARLIER, LATER = 9, 11


def lease(
    number: int, count: int, state: str = RUNNING, moves: dict[str, int] | None = None, **extra: object
) -> Lease:
    fields: dict[str, object] = {
        "instance": f"{number}-{count}-{state}-{sorted((moves or {}).items())}",
        "number": number,
        "count": count,
        "moves": moves or {},
        "state": state,
        "host": "machine-a",
        "pid": 1234,
        "boot_id": "boot-a",
        "lock_file": "/nowhere/dispatcher.db.fence",
        "lock_device": 1,
        "lock_inode": 1,
    }
    return Lease(**(fields | extra))  # type: ignore[arg-type]


ME = lease(1, 3, STARTING, instance="me")

# (another live lease, its revision) → does it keep `ME` (shard 1/3, written at revision 10) waiting?
POLICY = [
    # Another layout: running, or starting before us, blocks; starting after us, it is the one to wait.
    (lease(1, 2), EARLIER, True),
    (lease(2, 2), LATER, True),  # running: its revision (each renewal is a new one) does not matter
    (lease(2, 2, STARTING), EARLIER, True),
    (lease(2, 2, STARTING), LATER, False),
    # The same N but other moves is another layout too.
    (lease(2, 3, moves={"x/p1": 2}), LATER, True),
    (lease(3, 3, STARTING, moves={"x/p1": 2}), EARLIER, True),
    # The same layout: the other shard numbers never block, in any state or order...
    (lease(2, 3), EARLIER, False),
    (lease(3, 3, STARTING), EARLIER, False),
    (lease(2, 3, STARTING), LATER, False),
    # ...the same shard number does, as another layout would.
    (lease(1, 3), LATER, True),
    (lease(1, 3, STARTING), EARLIER, True),
    (lease(1, 3, STARTING), LATER, False),
    # Our own entry never blocks us.
    (lease(1, 3, STARTING, instance="me"), EARLIER, False),
    (lease(1, 3, RUNNING, instance="me"), EARLIER, False),
]


@pytest.mark.parametrize(("other", "revision", "blocks"), POLICY)
def test_which_live_lease_keeps_a_starting_dispatcher_waiting(
    other: Lease, revision: int, blocks: bool
) -> None:
    assert blocking(ME, MY_REVISION, [(other, revision)]) == ([other] if blocks else [])


def test_of_two_clashing_dispatchers_starting_at_once_exactly_one_waits() -> None:
    first, second = lease(1, 2, STARTING, instance="a"), lease(1, 3, STARTING, instance="b")
    # Each reads after its own write; the later one's read sees the earlier one's write.
    assert blocking(first, 5, [(first, 5), (second, 6)]) == []
    assert blocking(second, 6, [(first, 5), (second, 6)]) == [first]


def locked_lease(lock: LedgerLock, number: int, count: int, **extra: object) -> Lease:
    stat = os.stat(lock.path)
    fields = {"lock_file": str(lock.path), "lock_device": stat.st_dev, "lock_inode": stat.st_ino} | extra
    return lease(number, count, **fields)  # type: ignore[arg-type]


def test_a_lease_is_proved_dead_only_by_its_own_lock_file_free_on_the_same_kernel(tmp_path: Path) -> None:
    mine_lock = LedgerLock.for_ledger(tmp_path / "dispatcher.db")
    other_lock = LedgerLock.for_ledger(tmp_path / "dispatcher-shard-2.db")
    assert mine_lock.acquire() and other_lock.acquire()
    mine = locked_lease(mine_lock, 1, 3, state=STARTING, instance="me")
    other = locked_lease(other_lock, 2, 2)
    try:
        assert not proved_dead(other, mine, mine_lock)  # its process holds its lock: alive
        other_lock.release()  # its process died: the kernel releases a dead process's flock
        assert proved_dead(other, mine, mine_lock)
        # The same file on another kernel (another machine), or no kernel known, proves nothing.
        assert not proved_dead(locked_lease(other_lock, 2, 2, boot_id="boot-b"), mine, mine_lock)
        assert not proved_dead(locked_lease(other_lock, 2, 2, boot_id=""), mine, mine_lock)
        # Another file at that path now (a recreated volume, another machine's disk) proves nothing.
        replacement = tmp_path / "new.fence"
        replacement.touch()
        replacement.rename(other_lock.path)
        assert not proved_dead(other, mine, mine_lock)
        # A predecessor on our own ledger (the same shard before a crash, or the old layout's
        # shard of the same number): dead, since we hold the lock it would hold.
        assert proved_dead(locked_lease(mine_lock, 1, 2), mine, mine_lock)
    finally:
        mine_lock.release()


@pytest.mark.parametrize("raw", ["0", "-5", "1.5", "soon"])
def test_a_fence_ttl_that_is_not_a_whole_number_of_seconds_is_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="RELAIS_DISPATCHER_FENCE_TTL"):
        Settings.from_env({"RELAIS_DISPATCHER_FENCE_TTL": raw})


def test_the_fence_ttl_defaults_to_thirty_seconds() -> None:
    assert Settings.from_env({}).fence_ttl == 30
    assert Settings.from_env({"RELAIS_DISPATCHER_FENCE_TTL": "3"}).fence_ttl == 3
