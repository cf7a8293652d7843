"""The control channel of `relais ctl` (issue 11, item 3): one JSON object per line, a bounded
request, and only the user running Relais may use it, even if the socket's permissions were
loosened by mistake."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from relais.control import ControlInUse, ControlServer, ControlUnavailable, control_socket_path, request

BAD_REQUEST = {
    "ok": False,
    "error": {"code": "bad_request", "message": "one JSON object on one line of at most 4096 bytes"},
}


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A short path: a Unix socket's address is at most 107 bytes."""
    path = Path(tempfile.mkdtemp(prefix="relais-ctl-"))
    try:
        yield path
    finally:
        shutil.rmtree(path)


async def echo(message: dict[str, Any]) -> dict[str, Any]:
    return {"ok": True, "echo": message}


async def exchange(path: Path, data: bytes) -> bytes:
    """Send raw bytes, then read the whole answer."""
    reader, writer = await asyncio.open_unix_connection(str(path))
    writer.write(data)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    return answer


async def test_one_json_line_is_answered_with_one_json_line(data_dir: Path) -> None:
    server = ControlServer(data_dir, echo)
    await server.start()
    try:
        path = control_socket_path(data_dir)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        answer = await exchange(path, b'{"command": "status"}\n')
        assert json.loads(answer) == {"ok": True, "echo": {"command": "status"}}
        reply = await asyncio.to_thread(request, data_dir, {"command": "stop", "service": "nats"})
        assert reply == {"ok": True, "echo": {"command": "stop", "service": "nats"}}
    finally:
        await server.close()
    assert not path.exists()
    with pytest.raises(ControlUnavailable):
        request(data_dir, {"command": "status"})


@pytest.mark.parametrize(
    "data",
    [b"not json\n", b"[1, 2]\n", b'"status"\n', b"\n", b"{" + b" " * 5000 + b"}\n", b'{"command": "status"'],
    ids=["not-json", "array", "string", "empty", "too-long", "no-newline"],
)
async def test_anything_but_one_bounded_json_object_is_refused(data_dir: Path, data: bytes) -> None:
    seen: list[dict[str, Any]] = []

    async def handler(message: dict[str, Any]) -> dict[str, Any]:
        seen.append(message)
        return {"ok": True}

    server = ControlServer(data_dir, handler)
    await server.start()
    try:
        path = control_socket_path(data_dir)
        if data.endswith(b"\n"):
            answer = await exchange(path, data)
        else:  # the client closes its side in the middle of its line
            reader, writer = await asyncio.open_unix_connection(str(path))
            writer.write(data)
            writer.write_eof()
            answer = await reader.read()
            writer.close()
        assert json.loads(answer) == BAD_REQUEST
        assert seen == []
    finally:
        await server.close()


async def test_a_stale_socket_is_replaced_and_a_live_one_is_not(data_dir: Path) -> None:
    path = control_socket_path(data_dir)
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))  # bound, never listening: what a killed supervisor leaves
    stale.close()
    first = ControlServer(data_dir, echo)
    await first.start()
    try:
        second = ControlServer(data_dir, echo)
        with pytest.raises(ControlInUse):
            await second.start()
        await second.close()  # never started: leaves the first one's socket alone
        assert json.loads(await exchange(path, b'{"command": "status"}\n'))["ok"] is True
    finally:
        await first.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")
async def test_another_user_is_refused_even_through_a_loosened_socket(data_dir: Path) -> None:
    seen: list[dict[str, Any]] = []

    async def handler(message: dict[str, Any]) -> dict[str, Any]:
        seen.append(message)
        return {"ok": True}

    server = ControlServer(data_dir, handler)
    await server.start()
    path = control_socket_path(data_dir)
    os.chmod(data_dir, 0o777)  # an operator's mistake: the directory and socket open to everyone
    os.chmod(path, 0o777)
    try:
        program = """
import os, socket, sys
os.setgid(65534)
os.setuid(65534)
sock = socket.socket(socket.AF_UNIX)
sock.connect(sys.argv[1])
try:
    sock.sendall(b'{"command": "stop", "service": "nats"}\\n')
    answer = sock.recv(1000)
except (BrokenPipeError, ConnectionResetError):
    answer = b""
print(repr(answer))
"""
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-c", program, str(path), stdout=asyncio.subprocess.PIPE
        )
        out, _ = await child.communicate()
        assert child.returncode == 0
        assert out.strip() == b"b''"  # it could connect, but was closed without an answer
        assert seen == []
    finally:
        await server.close()
