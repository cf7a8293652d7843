"""The local control channel of a running `relais run`, `relais hub` or `relais agency`.

A Unix socket, `relais.sock` in the data directory (itself 0700), mode 0600, that also checks each
caller's user id (SO_PEERCRED): only the user running Relais can use it. One JSON object per line:
the client sends one request (`{"command": "status"}`, `{"command": "stop", "service": "nats"}`,
`{"command": "start", "service": "nats"}`), the supervisor answers one line (`{"ok": true, …}` or
`{"ok": false, "error": {"code", "message"}}`) and closes the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import struct
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import structlog

from shared import config

__all__ = [
    "ControlInUse",
    "ControlServer",
    "ControlUnavailable",
    "control_socket_path",
    "request",
]

SOCKET_NAME = "relais.sock"
MAX_REQUEST_BYTES = 4096
REQUEST_TIMEOUT = 5.0  # seconds a client may take to send its one line

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
log = structlog.get_logger()


class ControlUnavailable(Exception):
    """Nothing answers on the control socket: no supervisor runs with this data directory."""


class ControlInUse(Exception):
    """Another supervisor already answers on this data directory's control socket."""


def control_socket_path(data_dir: Path) -> Path:
    return data_dir / SOCKET_NAME


@contextlib.contextmanager
def _address(path: Path) -> Iterator[str]:
    """A Unix socket address is at most 107 bytes; a longer path (a test's temporary directory) is
    reached through its directory's descriptor instead (Linux's /proc/self/fd)."""
    if len(os.fsencode(path)) < 100:
        yield str(path)
        return
    fd = os.open(path.parent, os.O_PATH | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{fd}/{path.name}"
    finally:
        os.close(fd)


def _connect(path: Path, timeout: float) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        with _address(path) as address:
            sock.connect(address)
    except (FileNotFoundError, ConnectionRefusedError) as exc:
        sock.close()
        raise ControlUnavailable(str(path)) from exc
    except BaseException:
        sock.close()
        raise
    return sock


def request(data_dir: Path, message: dict[str, Any], timeout: float = 60.0) -> dict[str, Any]:
    """Send one request to the supervisor running with `data_dir`; its answer."""
    with _connect(control_socket_path(data_dir), timeout) as sock:
        sock.sendall(json.dumps(message).encode() + b"\n")
        with sock.makefile("rb") as answer:
            line = answer.readline()
    if not line:
        raise ControlUnavailable(str(control_socket_path(data_dir)))
    reply = json.loads(line)
    if not isinstance(reply, dict):
        raise ValueError("the supervisor's answer is not a JSON object")
    return reply


def _peer_uid(writer: asyncio.StreamWriter) -> int:
    sock: socket.socket = writer.get_extra_info("socket")
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


def error(code: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"code": code, "message": message}}


class ControlServer:
    """Serves `handler` on the data directory's control socket until closed."""

    def __init__(self, data_dir: Path, handler: Handler) -> None:
        self.path = control_socket_path(data_dir)
        self.handler = handler
        self.server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        self._remove_stale()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            with _address(self.path) as address:
                sock.bind(address)
            os.chmod(self.path, 0o600)
            sock.listen()
            self.server = await asyncio.start_unix_server(self._serve, sock=sock, limit=MAX_REQUEST_BYTES)
        except BaseException:
            sock.close()
            raise

    async def close(self) -> None:
        if self.server is None:
            return  # never started: the socket, if any, is not ours
        self.server.close()
        await self.server.wait_closed()
        self.server = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _remove_stale(self) -> None:
        """A socket left by a supervisor that was killed is removed; a live one is someone else's."""
        if not self.path.exists():
            return
        try:
            _connect(self.path, 1.0).close()
        except (ControlUnavailable, OSError):
            self.path.unlink()
            return
        raise ControlInUse(str(self.path))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if _peer_uid(writer) != os.geteuid():
                log.warning("control.refused", reason="another user")
                return
            reply = await self._answer(reader)
            writer.write(json.dumps(reply).encode() + b"\n")
            await writer.drain()
        except (ConnectionError, OSError):
            pass  # the client went away; nothing to answer
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader) -> dict[str, Any]:
        try:
            line = await asyncio.wait_for(reader.readline(), REQUEST_TIMEOUT)
        except (TimeoutError, ValueError):  # ValueError: a line longer than the limit
            return error("bad_request", "one JSON object on one line of at most 4096 bytes")
        try:
            message = json.loads(line)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            return error("bad_request", "one JSON object on one line of at most 4096 bytes")
        return await self.handler(message)


# `relais ctl`: the command line side.


def add_parser(commands: Any) -> None:
    ctl = commands.add_parser(
        "ctl", help="stop, start or list the processes of a running `relais run`, `hub` or `agency`"
    )
    actions = ctl.add_subparsers(dest="action", required=True)
    status = actions.add_parser("status", help="each process: pid, state, restarts")
    status.add_argument("--json", action="store_true", help="print the supervisor's answer as JSON")
    status.set_defaults(run=command)
    for action, what in (("stop", "stop one service; it stays stopped"), ("start", "start it again")):
        acting = actions.add_parser(action, help=what)
        acting.add_argument("service", help="as `relais ctl status` names it")
        acting.set_defaults(run=command)


def command(args: Any) -> int:
    """`relais ctl status|stop|start`, on the supervisor of this data directory."""
    return run(config.data_dir(), args)


def run(data_dir: Path, args: Any) -> int:
    """0 done, 1 nothing runs (or the service did not become ready), 2 refused (unknown service)."""
    message: dict[str, Any] = {"command": args.action}
    if args.action in ("stop", "start"):
        message["service"] = args.service
    try:
        reply = request(data_dir, message)
    except ControlUnavailable:
        print(
            f"relais: nothing is running with data directory {data_dir}: no supervisor answers on "
            f"{control_socket_path(data_dir)} (start `relais run`, `hub` or `agency` with it)",
            file=sys.stderr,
        )
        return 1
    if not reply.get("ok"):
        print(f"relais: {reply['error']['message']}", file=sys.stderr)
        return 1 if reply["error"]["code"] == "shutting_down" else 2
    if args.action == "status":
        print(json.dumps(reply["services"], indent=2) if args.json else _table(reply["services"]))
        return 0
    service = reply["service"]
    print(f"{service['service']}: {service['state']} (pid {service['pid'] or '-'})")
    if args.action == "start" and not reply["ready"]:
        print(f"relais: {service['service']} is not ready yet; see its log", file=sys.stderr)
        return 1
    return 0


def _table(services: list[dict[str, Any]]) -> str:
    rows = [("SERVICE", "PID", "STATE", "RESTARTS")]
    rows += [(s["service"], str(s["pid"] or "-"), s["state"], str(s["restarts"])) for s in services]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )
