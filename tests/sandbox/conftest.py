"""The real sandbox app, served on 127.0.0.1 with its database in a temporary directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pytest_aiohttp import AiohttpClient
from sandbox_kit import Arm, Received, Sandbox

from services.sandbox.app import create_app
from services.sandbox.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
async def sandbox(aiohttp_client: AiohttpClient, settings: Settings) -> Sandbox:
    return await aiohttp_client(create_app(settings))


@pytest.fixture
def arm(sandbox: Sandbox) -> Arm:
    """Arm a fault through the sandbox's own API."""

    async def arm(network: str, account: str, mode: str, **extra: Any) -> None:
        response = await sandbox.post(
            "/_sandbox/faults", json={"network": network, "account": account, "mode": mode, **extra}
        )
        assert response.status == 201, await response.text()

    return arm


@pytest.fixture
def received(sandbox: Sandbox) -> Received:
    """What the inspection API says the fake accounts received."""

    async def received(**query: str) -> list[dict[str, Any]]:
        response = await sandbox.get("/_sandbox/posts", params=query)
        assert response.status == 200
        posts: list[dict[str, Any]] = (await response.json())["posts"]
        return posts

    return received
