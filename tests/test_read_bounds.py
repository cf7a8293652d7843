"""Slow clients cannot hold a service's connections (issue 10, finding 11): 40 connections trickling
their headers or their body, one byte at a time, to every service's HTTP server (real processes,
started as `relais run` starts them, with short bounds set for the test) are all closed, and the
servers answer other clients meanwhile."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import RelaisSystem, http

HEADER_SECONDS, BODY_SECONDS = 1, 2
GIVE_UP = 20.0  # far above both bounds: a connection still open then was never going to be closed
DRIP = 0.2  # seconds between two bytes


@pytest.fixture
def bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RelaisSystem]:
    monkeypatch.setenv("RELAIS_HTTP_HEADER_TIMEOUT", str(HEADER_SECONDS))
    monkeypatch.setenv("RELAIS_HTTP_BODY_TIMEOUT", str(BODY_SECONDS))
    system = RelaisSystem(tmp_path, agencies=["lyon-part-dieu"])
    try:
        system.start()
        yield system
    finally:
        system.stop()


async def trickle(port: int, head: bytes) -> bytes | None:
    """Send `head`, then one byte every DRIP seconds; what the server sent before closing the
    connection, or None if it was still open after GIVE_UP seconds."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    received = b""
    try:
        writer.write(head)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + GIVE_UP
        while loop.time() < deadline:
            try:
                chunk = await asyncio.wait_for(reader.read(4096), DRIP)
            except TimeoutError:
                writer.write(b"a")
                await writer.drain()
                continue
            if not chunk:
                return received  # closed by the server
            received += chunk
        return None
    except ConnectionError:
        return received
    finally:
        writer.close()


def body_head(path: str, token: str) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: relais\r\nAuthorization: Bearer {token}\r\n"
        "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
        '{"text": "'
    ).encode()


def test_connections_trickling_headers_or_a_body_are_closed(bounded: RelaisSystem) -> None:
    ports = {name: p.spec.port for name, p in bounded.processes.items() if p.spec.port and name != "nats"}
    ports.pop("sandbox")  # the networks' test double, not a Relais service
    assert set(ports) == {"federation", "formatter", "hub", "dispatcher", "intake-lyon-part-dieu"}
    slow_heads = [(port, b"GET /healthz HTTP/1.1\r\nHost: relais\r\nX-Slow: ") for port in ports.values()] * 4
    slow_bodies = [(bounded.ports.hub, body_head("/v1/posts", bounded.token("admin")))] * 10
    slow_bodies += [(bounded.ports.intake, body_head("/v1/posts", bounded.token()))] * 10

    async def attack() -> tuple[list[bytes | None], list[bytes | None], list[int]]:
        heads = [asyncio.create_task(trickle(port, head)) for port, head in slow_heads]
        bodies = [asyncio.create_task(trickle(port, head)) for port, head in slow_bodies]
        await asyncio.sleep(HEADER_SECONDS / 2)  # all 40 connections are open and trickling
        served = [
            (await asyncio.to_thread(http, "GET", f"http://127.0.0.1:{port}/healthz"))[0]
            for port in ports.values()
        ]
        return list(await asyncio.gather(*heads)), list(await asyncio.gather(*bodies)), served

    heads, bodies, served = asyncio.run(attack())

    assert served == [200] * len(ports)
    assert None not in heads, "a connection trickling its headers stayed open"
    assert None not in bodies, "a connection trickling its body stayed open"
    for answer in bodies:
        assert answer is not None and answer.startswith(b"HTTP/1.1 408"), answer
        error = json.loads(answer.partition(b"\r\n\r\n")[2])["error"]
        assert error["code"] == "body_timeout" and set(error) == {"code", "message", "field"}
    assert bounded.post({"text": "Toujours là #emploi", "networks": ["mastodon"]})[0] == 202
    assert "Unhandled exception" not in bounded.logs() and "request.failed" not in bounded.logs()
