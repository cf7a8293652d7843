"""Keep a set of local processes up until Ctrl-C (or SIGTERM), then stop them all, in order.

A process that dies is started again after a delay that doubles with each quick death (1 s, 2 s,
4 s… at most 30 s) and goes back to 1 s once it has stayed up a minute; the others are never
touched. `relais ctl stop SERVICE` / `start SERVICE` (relais.control) stop and start one on
purpose: a deliberately stopped process stays stopped until started again.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import structlog

from relais.control import ControlInUse, ControlServer, error
from relais.processes import ManagedProcess, port_free, wait_ready
from shared import config
from shared.logs import configure_logging

__all__ = ["Backoff", "Supervisor", "ports_in_use", "supervise"]

POLL_INTERVAL = 0.2
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # Ctrl-C, a service manager, a closed terminal
STOP_TIMEOUT = 10.0  # seconds a process has to exit after SIGTERM before SIGKILL
START_TIMEOUT = 30.0  # seconds a process has to become ready at start or on `relais ctl start`

log = structlog.get_logger()


@dataclass(frozen=True)
class Backoff:
    initial: float = 1.0
    cap: float = 30.0
    stable_after: float = 60.0  # seconds up after which a death counts as the first again

    def delay(self, attempt: int) -> float:
        return float(min(self.cap, self.initial * 2 ** (attempt - 1)))


class State(StrEnum):
    RUNNING = "running"
    RESTARTING = "restarting"  # it died; waiting for its next start
    STOPPING = "stopping"
    STOPPED = "stopped"  # never started, stopped on purpose, or the whole system is stopping


class Service:
    def __init__(self, process: ManagedProcess) -> None:
        self.process = process
        self.state = State.STOPPED
        self.restarts = 0
        self.failures = 0  # deaths in a row, each within `stable_after` of its start
        self.started_at = 0.0
        self.restart_at = 0.0

    @property
    def name(self) -> str:
        return self.process.spec.name

    def start(self) -> None:
        self.process.start()
        self.state = State.RUNNING
        self.started_at = time.monotonic()

    def status(self) -> dict[str, Any]:
        return {"service": self.name, "pid": self.process.pid, "state": self.state, "restarts": self.restarts}


def ports_in_use(processes: list[ManagedProcess]) -> str | None:
    """The one-line error for the first port already taken, or None."""
    for process in processes:
        spec = process.spec
        if spec.port is not None and not port_free("127.0.0.1", spec.port):
            return f"relais: port {spec.port} is in use; set {spec.port_variable} to a free port"
    return None


def exit_fields(code: int | None) -> dict[str, Any]:
    """How a process ended, for the logs: its exit code, or the signal that killed it."""
    if code is not None and code < 0:
        return {"signal": signal.Signals(-code).name}
    return {"exit_code": code}


def exited_cleanly(code: int | None) -> bool:
    return code in (0, -signal.SIGTERM)


async def stop_processes(processes: Iterable[ManagedProcess]) -> bool:
    """SIGTERM to every running one at once, SIGKILL to those still there after STOP_TIMEOUT.
    True when each exited by itself, cleanly."""
    running = [p for p in processes if p.alive]
    for process in running:
        process.terminate()
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        if not any(p.alive for p in running):
            break
        await asyncio.sleep(0.05)
    clean = True
    for process in running:
        if process.alive:
            log.warning("supervisor.killed", process=process.spec.name, after_s=STOP_TIMEOUT)
            process.kill()
            clean = False
        elif not exited_cleanly(process.exit_code):
            log.warning(
                "supervisor.unclean_exit", process=process.spec.name, **exit_fields(process.exit_code)
            )
            clean = False
    return clean


async def become_ready(process: ManagedProcess) -> bool:
    """Wait until `process` answers its readiness check; False if it dies or START_TIMEOUT passes."""
    url = process.ready_url(alive_only=process.spec.ready_when_alive)
    deadline = time.monotonic() + START_TIMEOUT
    while process.alive and time.monotonic() < deadline:
        if url is None or await asyncio.to_thread(wait_ready, url, 0.5):
            return True
        await asyncio.sleep(0.1)
    return False


class Supervisor:
    def __init__(self, processes: list[ManagedProcess], data_dir: Path, backoff: Backoff = Backoff()) -> None:
        for process in processes:
            process.supervised = True  # own process group; dies with the supervisor
        self.services = {p.spec.name: Service(p) for p in processes}
        self.backoff = backoff
        self.control = ControlServer(data_dir, self.handle)
        self.stop_requested = asyncio.Event()

    async def run(self, on_ready: Callable[[], None]) -> int:
        """Start everything, call `on_ready`, keep it up until asked to stop; 0 if the shutdown was
        clean (every process exited by itself), 1 otherwise or if the start failed."""
        loop = asyncio.get_running_loop()
        for signum in STOP_SIGNALS:
            loop.add_signal_handler(signum, self.stop_requested.set)
        try:
            return await self._run(on_ready)
        finally:
            for signum in STOP_SIGNALS:
                loop.remove_signal_handler(signum)

    async def _run(self, on_ready: Callable[[], None]) -> int:
        try:
            await self.control.start()
        except ControlInUse as exc:
            print(f"relais: another relais already runs with this data directory ({exc})", file=sys.stderr)
            return 2
        failed = False
        try:
            if await self._until_stop_requested(self._start_all()):
                on_ready()
                await self._until_stop_requested(self._watch())
            print("\nrelais: stopping…", file=sys.stderr, flush=True)
        except RuntimeError as exc:
            print(f"relais: {exc}", file=sys.stderr)
            failed = True
        finally:
            # Processes first: a `ctl start` still waiting for its process ends when it is stopped.
            clean = await self.shutdown()
            await self.control.close()
        return 0 if clean and not failed else 1

    async def _until_stop_requested(self, work: Any) -> bool:
        """Run `work` until it ends (True) or a stop is requested (False, `work` cancelled)."""
        task = asyncio.ensure_future(work)
        stop = asyncio.ensure_future(self.stop_requested.wait())
        await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if task.done():
            task.result()  # raises what the work raised
            return True
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return False

    async def _start_all(self) -> None:
        for service in self.services.values():
            service.start()
        for service in self.services.values():
            if not await become_ready(service.process):
                process = service.process
                what = "exited" if not process.alive else f"not ready after {START_TIMEOUT:.0f}s"
                raise RuntimeError(f"{service.name} {what}; see {process.log_path}:\n{process.tail()}")

    async def _watch(self) -> None:
        while True:
            now = time.monotonic()
            for service in self.services.values():
                if service.state is State.RUNNING and not service.process.alive:
                    self._died(service, now)
                elif service.state is State.RESTARTING and now >= service.restart_at:
                    self._restart(service)
            await asyncio.sleep(POLL_INTERVAL)

    def _died(self, service: Service, now: float) -> None:
        uptime = now - service.started_at
        if uptime >= self.backoff.stable_after:
            service.failures = 0
        service.failures += 1
        delay = self.backoff.delay(service.failures)
        service.state, service.restart_at = State.RESTARTING, now + delay
        log.warning(
            "supervisor.process_died",
            process=service.name,
            **exit_fields(service.process.exit_code),
            uptime_s=round(uptime, 1),
            attempt=service.failures,
            restart_in_s=delay,
            log=str(service.process.log_path),
        )

    def _restart(self, service: Service) -> None:
        try:
            service.start()
        except OSError as exc:  # e.g. its program vanished: counts as one more death
            log.error("supervisor.start_failed", process=service.name, error=str(exc))
            service.state = State.RUNNING
            self._died(service, time.monotonic())
            return
        service.restarts += 1
        log.info("supervisor.process_restarted", process=service.name, pid=service.process.pid)

    async def shutdown(self) -> bool:
        """Stop every process by tier (services, then what they call, then the bus); True if clean."""
        for service in self.services.values():
            if service.state is State.RESTARTING:
                service.state = State.STOPPED
        clean = True
        for tier in sorted({s.process.spec.stop_tier for s in self.services.values()}):
            chosen = [s for s in self.services.values() if s.process.spec.stop_tier == tier]
            for service in chosen:
                service.state = State.STOPPING if service.process.alive else State.STOPPED
            clean = await stop_processes(s.process for s in chosen) and clean
            for service in chosen:
                service.state = State.STOPPED
            log.info("supervisor.stopped", processes=[s.name for s in chosen])
        return clean

    async def handle(self, message: dict[str, Any]) -> dict[str, Any]:
        """One control request: status, stop SERVICE or start SERVICE."""
        command = message.get("command")
        if command == "status":
            return {"ok": True, "services": [s.status() for s in self.services.values()]}
        if command not in ("stop", "start"):
            return error("unknown_command", "the commands are status, stop SERVICE and start SERVICE")
        name = message.get("service")
        service = self.services.get(name) if isinstance(name, str) else None
        if service is None:
            names = ", ".join(self.services)
            return error("unknown_service", f"no service named {name!r}; the services are: {names}")
        if self.stop_requested.is_set():
            return error("shutting_down", "relais is stopping")
        if command == "stop":
            return await self._stop(service)
        return await self._start(service)

    async def _stop(self, service: Service) -> dict[str, Any]:
        if service.state is State.STOPPING:
            return error("busy", f"{service.name} is already stopping")
        service.state = State.STOPPING  # from now on, its exit is no death to restart after
        pid = service.process.pid
        clean = await stop_processes([service.process])
        service.state = State.STOPPED
        log.info("supervisor.process_stopped", process=service.name, pid=pid, clean=clean, requested=True)
        return {"ok": True, "service": service.status()}

    async def _start(self, service: Service) -> dict[str, Any]:
        if service.state is State.STOPPING:
            return error("busy", f"{service.name} is stopping; start it once it has stopped")
        if service.state is not State.RUNNING:
            service.failures = 0
            service.start()
            log.info(
                "supervisor.process_started", process=service.name, pid=service.process.pid, requested=True
            )
        ready = await become_ready(service.process)
        return {"ok": True, "ready": ready, "service": service.status()}


def supervise(processes: list[ManagedProcess], on_ready: Callable[[], None], data_dir: Path) -> int:
    """`relais run`, `hub` and `agency`: keep `processes` up (see Supervisor) until Ctrl-C or SIGTERM."""
    problem = ports_in_use(processes)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    configure_logging(config.log_format(), service="supervisor")
    return asyncio.run(Supervisor(processes, data_dir).run(on_ready))
