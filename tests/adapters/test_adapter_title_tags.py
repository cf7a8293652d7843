"""SlideShare's and YouTube's adapters send the title and tags the rules rendered (the variant's),
over real HTTP to the emulators; a delivery recorded before posts carried them (no title) gets them
from its text, as before. The emulators check them as each API documents them."""

from __future__ import annotations

import aiohttp
from adapter_kit import Received, page
from video_kit import video

from services.dispatcher.adapters.base import DeliveryError, Media
from services.dispatcher.adapters.slideshare import SlideShareAdapter
from services.dispatcher.adapters.youtube import YouTubeAdapter
from tests.documents import pdf

DESCRIPTION = "Forum de l'emploi à Casablanca\nLes offres de la semaine #emploi #Anapec"


def presentation() -> Media:
    return Media("document", data=pdf(), mime_type="application/pdf", id="forum-2026")


async def test_slideshare_sends_the_variant_s_title_and_tags(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    slideshare = SlideShareAdapter(http, conversion_wait=10.0, poll_every=0.1)
    account = page("slideshare", "anapec", base_url)
    await slideshare.publish(
        account,
        [DESCRIPTION],
        idempotency_key="k1",
        media=[presentation()],
        title="Programme du forum 2026",
        tags=["emploi", "Casablanca Settat"],
    )
    # A title without tags: none are sent (the rules chose them), not the text's hashtags.
    await slideshare.publish(
        account, [DESCRIPTION], idempotency_key="k2", media=[presentation()], title="Sans mots-clés"
    )
    given, untagged = await received(network="slideshare")
    assert (given["body"]["slideshow_title"], given["body"]["slideshow_tags"]) == (
        "Programme du forum 2026",
        "emploi,Casablanca Settat",
    )
    assert (untagged["body"]["slideshow_title"], untagged["body"].get("slideshow_tags", "")) == (
        "Sans mots-clés",
        "",
    )


async def test_youtube_sends_the_variant_s_title_and_tags_or_the_text_s_first_line(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    youtube = YouTubeAdapter(http)
    account = page("youtube", "lyon", base_url)
    await youtube.publish(
        account,
        ["Replay du webinaire"],
        idempotency_key="k1",
        media=[video(300_000)],
        title="Replay : les métiers qui recrutent",
        tags=["emploi", "webinaire Lyon"],
    )
    await youtube.publish(
        account, ["Recorded before titles\nmore"], idempotency_key="k2", media=[video(300_000)]
    )
    given, derived = await received(network="youtube")
    assert (given["body"]["snippet"]["title"], given["body"]["snippet"]["tags"]) == (
        "Replay : les métiers qui recrutent",
        ["emploi", "webinaire Lyon"],
    )
    assert derived["body"]["snippet"]["title"] == "Recorded before titles"
    assert "tags" not in derived["body"]["snippet"]


async def test_the_youtube_emulator_refuses_tags_over_500_characters_as_youtube_counts_them(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    """Each of these 23 tags is 20 characters; with a space each counts 22 (quoted), 528 in all."""
    youtube = YouTubeAdapter(http)
    tags = [f"{i:02d} " + "x" * 17 for i in range(23)]
    try:
        await youtube.publish(
            page("youtube", "lyon", base_url),
            ["Replay"],
            idempotency_key="k1",
            media=[video(300_000)],
            title="Replay",
            tags=tags,
        )
    except DeliveryError as refused:
        assert (refused.network_code, refused.kind) == ("invalidTags", "permanent")
    else:
        raise AssertionError("the emulator took 528 characters of tags")
    assert await received(network="youtube") == []
