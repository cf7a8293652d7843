"""Run a set of local processes until Ctrl-C (or SIGTERM), then stop them all."""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable

from relais.processes import ManagedProcess, port_free, stop_all


def ports_in_use(processes: list[ManagedProcess]) -> str | None:
    """The one-line error for the first port already taken, or None."""
    for process in processes:
        spec = process.spec
        if spec.port is not None and not port_free("127.0.0.1", spec.port):
            return f"relais: port {spec.port} is in use; set {spec.port_variable} to a free port"
    return None


def supervise(processes: list[ManagedProcess], on_ready: Callable[[], None]) -> int:
    """Start everything, call `on_ready`, and wait; a process that dies stops the rest (exit 1)."""
    problem = ports_in_use(processes)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        for process in processes:
            process.start()
        for process in processes:
            process.wait_ready(alive_only=process.spec.name.startswith("intake-"))
        on_ready()
        while all(p.alive for p in processes):
            time.sleep(0.5)
        for process in processes:
            if not process.alive:
                print(
                    f"relais: {process.spec.name} stopped; last lines of {process.log_path}:", file=sys.stderr
                )
                print(process.tail(), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nrelais: stopping…", file=sys.stderr)
        return 0
    except RuntimeError as exc:
        print(f"relais: {exc}", file=sys.stderr)
        return 1
    finally:
        stop_all(processes)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
