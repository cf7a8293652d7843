"""Helpers shared by the adapter tests (a uniquely named module: both test folders have a conftest)."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from services.dispatcher.adapters import PageAccount
from services.dispatcher.adapters.base import Media
from tests.documents import pdf


def media_for(network: str, base_url: str) -> tuple[Media, ...]:
    """What networks that cannot post text alone need to be tried at all. Instagram downloads
    its image from a public server: the sandbox's own sample stands in for one."""
    if network == "instagram":
        return (Media("image", url=f"{base_url}/_sandbox/sample.jpg", alt="Affiche du forum"),)
    if network == "youtube":
        return (Media("video", data=b"\x00\x00\x00\x18ftypmp42" * 100, mime_type="video/mp4"),)
    if network == "slideshare":
        return (Media("document", data=pdf(), mime_type="application/pdf", id="presentation"),)
    return ()


Arm = Callable[..., Awaitable[None]]
Received = Callable[..., Awaitable[list[dict[str, Any]]]]


def page(network: str, handle: str, base_url: str, **credentials: str) -> PageAccount:
    """A page on the sandbox; `token` defaults to the sandbox token of `handle`."""
    if not credentials and network == "slideshare":  # the sandbox's app key, and the user's password
        credentials = {
            "api_key": "sbx-slideshare-relais",
            "shared_secret": "sbx-secret-relais",
            "password": f"sbx-slideshare-{handle}",
        }
    if not credentials and network != "bluesky":
        credentials = {"token": f"sbx-{network}-{handle}"}
    if not credentials:
        credentials = {"identifier": handle, "password": f"sbx-bluesky-{handle.split('.')[0]}"}
    return PageAccount(
        page_id=f"test-{network}-{handle}",
        network=network,
        handle=handle,
        credentials=credentials,
        base_url=base_url,
    )


def closed_port_url() -> str:
    """An address where nothing listens: connecting is refused before anything is sent."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


async def write_audience(base_url: str, **body: Any) -> list[dict[str, Any]]:
    """People write to a page of a network that pushes its items (`POST /_sandbox/audience`)."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{base_url}/_sandbox/audience", json=body) as response,
    ):
        assert response.status == 201, await response.text()
        items: list[dict[str, Any]] = (await response.json())["items"]
        return items


async def delete_audience(base_url: str, network: str, item_id: str) -> None:
    """The person deletes what they wrote."""
    async with (
        aiohttp.ClientSession() as session,
        session.delete(f"{base_url}/_sandbox/audience/{network}/{item_id}") as response,
    ):
        assert response.status == 200, await response.text()
