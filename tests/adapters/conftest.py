"""The real sandbox on 127.0.0.1 (temporary data dir) and an aiohttp session to reach it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from adapter_kit import Arm, Received
from aiohttp.test_utils import TestServer
from pytest_aiohttp import AiohttpServer

from services.sandbox.app import create_app
from services.sandbox.settings import Settings


@pytest.fixture
async def sandbox_server(aiohttp_server: AiohttpServer, tmp_path: Path) -> TestServer:
    return await aiohttp_server(create_app(Settings(data_dir=tmp_path / "data")))


@pytest.fixture
def base_url(sandbox_server: TestServer) -> str:
    return str(sandbox_server.make_url("")).rstrip("/")


@pytest.fixture
def requests_seen() -> list[str]:
    """Every request the adapters' session sends, as `METHOD url`."""
    return []


@pytest.fixture
async def http(requests_seen: list[str]) -> AsyncIterator[aiohttp.ClientSession]:
    tracing = aiohttp.TraceConfig()

    async def record(
        session: aiohttp.ClientSession, context: Any, params: aiohttp.TraceRequestStartParams
    ) -> None:
        requests_seen.append(f"{params.method} {params.url}")

    tracing.on_request_start.append(record)
    async with aiohttp.ClientSession(trace_configs=[tracing]) as session:
        yield session


@pytest.fixture
def received(base_url: str) -> Received:
    async def received(**query: str) -> list[dict[str, Any]]:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{base_url}/_sandbox/posts", params=query) as response,
        ):
            posts: list[dict[str, Any]] = (await response.json())["posts"]
            return posts

    return received


@pytest.fixture
def arm(base_url: str) -> Arm:
    async def arm(network: str, account: str, mode: str, **extra: Any) -> None:
        body = {"network": network, "account": account, "mode": mode, **extra}
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{base_url}/_sandbox/faults", json=body) as response,
        ):
            assert response.status == 201, await response.text()

    return arm
