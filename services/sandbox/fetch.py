"""Downloading media from a URL, as Instagram and Threads do ("media must be on a public server").

The networks fetch `image_url` / `video_url` themselves when a container is created; a URL they
cannot download makes the container fail. The sandbox does the same, so a Relais whose media URL
(`RELAIS_MEDIA_PUBLIC_URL`) the networks cannot reach fails here as it would there.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp

__all__ = ["Downloaded", "download"]

_TIMEOUT = aiohttp.ClientTimeout(total=15, sock_connect=5)


@dataclass(frozen=True)
class Downloaded:
    data: bytes
    content_type: str


async def download(url: str, *, max_bytes: int) -> Downloaded | str:
    """The file at `url`, or why it could not be downloaded."""
    try:
        async with (
            aiohttp.ClientSession(timeout=_TIMEOUT) as session,
            session.get(url, allow_redirects=True) as response,
        ):
            if response.status != 200:
                return f"the server answered HTTP {response.status}"
            data = await response.content.read(max_bytes + 1)
            if len(data) > max_bytes:
                return f"the file is larger than {max_bytes} bytes"
            return Downloaded(data, response.content_type)
    except (aiohttp.ClientError, TimeoutError, ValueError) as error:
        return f"the file could not be downloaded ({type(error).__name__})"
