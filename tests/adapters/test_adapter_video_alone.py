"""Facebook, LinkedIn and Bluesky take a video only as a post's single attachment: mixed with an
image it is refused, permanently, before anything is sent."""

from __future__ import annotations

import aiohttp
import pytest
from adapter_kit import page
from video_kit import video

from services.dispatcher.adapters import DeliveryError, adapter_for
from services.dispatcher.adapters.base import Media


@pytest.mark.parametrize(
    ("network", "handle"), [("facebook", "1234"), ("linkedin", "123"), ("bluesky", "lyon")]
)
async def test_a_video_with_an_image_is_refused_before_anything_is_sent(
    http: aiohttp.ClientSession, base_url: str, requests_seen: list[str], network: str, handle: str
) -> None:
    photo = Media("image", data=b"\x89PNG\r\n\x1a\n", mime_type="image/png", id="m1")

    with pytest.raises(DeliveryError) as caught:
        await adapter_for(network, http).publish(
            page(network, handle, base_url), ["x"], idempotency_key="d", media=[photo, video(1000)]
        )

    assert caught.value.kind == "permanent" and "only attachment" in caught.value.message
    assert requests_seen == []
