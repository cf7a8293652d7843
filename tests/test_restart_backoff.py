"""The supervisor's restart policy (issue 11, item 3) on real processes, with short delays: each quick
death doubles the delay up to its cap, a process that stayed up long enough starts over at the first
delay, every death is logged with its exit code or signal, and the other processes are untouched."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from relais import supervise
from relais.processes import ManagedProcess, ProcessSpec
from relais.supervise import Backoff, Supervisor
from tests.waiting import until

# Sleeps, unless the file named by its first argument exists: then it dies at once, with code 3.
FRAGILE = "import os, sys, time; sys.exit(3) if os.path.exists(sys.argv[1]) else time.sleep(120)"


def test_delays_double_up_to_the_cap() -> None:
    backoff = Backoff(initial=1.0, cap=30.0)
    assert [backoff.delay(n) for n in range(1, 8)] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


async def test_a_process_that_keeps_dying_waits_longer_each_time_and_starts_over_once_stable(
    tmp_path: Path,
) -> None:
    crash = tmp_path / "crash"
    fragile = ProcessSpec("fragile", [sys.executable, "-c", FRAGILE, str(crash)])
    steady = ProcessSpec("steady", [sys.executable, "-c", "import time; time.sleep(120)"])
    processes = [ManagedProcess(spec, tmp_path / "logs") for spec in (fragile, steady)]
    supervisor = Supervisor(processes, tmp_path, Backoff(initial=0.2, cap=0.8, stable_after=2.0))
    died: list[dict[str, Any]] = []

    async def scenario() -> None:
        fragile_process, steady_process = processes
        await until(lambda: fragile_process.alive and steady_process.alive)
        steady_pid = steady_process.pid
        crash.touch()
        os.kill(fragile_process.pid or 0, signal.SIGTERM)
        await until(lambda: len(deaths()) >= 5)
        crash.unlink()  # the next start stays up
        await until(lambda: supervisor.services["fragile"].state == "running" and fragile_process.alive)
        await asyncio.sleep(2.5)  # longer than stable_after
        os.kill(fragile_process.pid or 0, signal.SIGKILL)
        await until(lambda: len(deaths()) >= 6)
        assert steady_process.pid == steady_pid
        supervisor.stop_requested.set()

    def deaths() -> list[dict[str, Any]]:
        died[:] = [e for e in logs if e["event"] == "supervisor.process_died"]
        return died

    with capture_logs() as logs:
        task = asyncio.create_task(scenario())
        code = await supervisor.run(lambda: None)
        await task
    assert code == 0
    assert [(e["process"], e["attempt"], e["restart_in_s"]) for e in died[:5]] == [
        ("fragile", 1, 0.2),
        ("fragile", 2, 0.4),
        ("fragile", 3, 0.8),
        ("fragile", 4, 0.8),
        ("fragile", 5, 0.8),
    ]
    assert died[0].get("signal") == "SIGTERM" and all(e["exit_code"] == 3 for e in died[1:5]), died
    # Up for longer than stable_after, then killed: the count starts over.
    assert [(e["attempt"], e["restart_in_s"], e["signal"]) for e in died[5:]] == [(1, 0.2, "SIGKILL")]
    assert supervisor.services["steady"].restarts == 0
    assert supervisor.services["fragile"].restarts >= 5


@pytest.mark.parametrize(
    "program",
    [
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)",
        "import signal, sys, time; signal.signal(signal.SIGTERM, lambda *_: sys.exit(1)); time.sleep(120)",
    ],
    ids=["ignores-sigterm", "fails-on-sigterm"],
)
async def test_the_exit_code_says_a_shutdown_was_not_clean(
    tmp_path: Path, program: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(supervise, "STOP_TIMEOUT", 1.0)
    stubborn = ManagedProcess(ProcessSpec("stubborn", [sys.executable, "-c", program]), tmp_path / "logs")
    steady = ManagedProcess(
        ProcessSpec("steady", [sys.executable, "-c", "import time; time.sleep(120)"]), tmp_path / "logs"
    )
    supervisor = Supervisor([stubborn, steady], tmp_path)

    async def stop_once_up() -> None:
        await until(lambda: stubborn.alive and steady.alive)
        await asyncio.sleep(0.5)  # its SIGTERM handler is in place
        supervisor.stop_requested.set()

    task = asyncio.create_task(stop_once_up())
    assert await supervisor.run(lambda: None) == 1
    await task
    assert not stubborn.alive and not steady.alive
