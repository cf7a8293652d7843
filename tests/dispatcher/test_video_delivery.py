"""Video on Facebook, LinkedIn and Bluesky through the dispatcher as a real process: published end
to end with the sandbox's processing delay, a processing failure ending the delivery failed with
the network's reason, and a dispatcher SIGKILLed mid-upload that publishes each video once."""

from __future__ import annotations

import hashlib
from collections import Counter

from tests.adapters.video_kit import mp4
from tests.dispatcher.conftest import FleetFactory
from tests.dispatcher.fleet import Page, make_pages
from tests.harness import eventually

VIDEO_NETWORKS = ("facebook", "linkedin", "bluesky")
CLIP = mp4(700_000)  # two chunks or parts in the Facebook and LinkedIn emulators


def texts(pages: list[Page], post: str) -> dict[str, list[str]]:
    return {p.page: [f"{post} : le salon de l'emploi en vidéo, {p.page}"] for p in pages}


def test_a_video_is_published_once_on_each_network(fleet_factory: FleetFactory) -> None:
    pages = make_pages(1, VIDEO_NETWORKS)
    fleet = fleet_factory(pages)

    fleet.approve(
        "post-v",
        "agence-000",
        pages,
        texts(pages, "Salon"),
        media={"agence-000-salon": (CLIP, "video/mp4", "Le salon : stands et conférences")},
    )
    rows = fleet.wait_settled(len(pages))

    assert {r["status"] for r in rows.values()} == {"published"}, rows
    received = fleet.received()
    assert Counter(p["network"] for p in received) == Counter(VIDEO_NETWORKS)
    for post in received:
        assert hashlib.sha256(CLIP).hexdigest() in [m["sha256"] for m in post["media"]], post["network"]


def test_a_video_failing_processing_ends_the_delivery_failed_with_the_reason(
    fleet_factory: FleetFactory,
) -> None:
    pages = make_pages(1, VIDEO_NETWORKS)
    fleet = fleet_factory(pages)
    broken = b"\x00\x00\x00\x18mdat" + bytes(5000)  # an MP4 box, but no ftyp: processing fails

    fleet.approve(
        "post-f",
        "agence-000",
        pages,
        texts(pages, "Abîmée"),
        media={"agence-000-abimee": (broken, "video/mp4", "Vidéo abîmée")},
    )
    rows = fleet.wait_settled(len(pages))

    for row in rows.values():
        assert row["status"] == "failed", row
        assert "could not process the video" in row["error"], row
        assert "not a video that could be decoded" in row["error"], row
    # Facebook's finish publishes before processing (the failed video stays off the page's feed);
    # LinkedIn and Bluesky post nothing until the video is processed.
    assert {p["network"] for p in fleet.received()} <= {"facebook"}


def test_a_dispatcher_killed_mid_upload_publishes_each_video_once(fleet_factory: FleetFactory) -> None:
    pages = make_pages(1, VIDEO_NETWORKS)
    fleet = fleet_factory(pages)
    for page in pages:
        fleet.arm(page.network, page.handle, "slow", seconds=2)  # the first upload call hangs

    fleet.approve(
        "post-k",
        "agence-000",
        pages,
        texts(pages, "Coupée"),
        media={"agence-000-coupee": (CLIP, "video/mp4", "Vidéo coupée")},
    )
    eventually(lambda: sum(r["status"] == "publishing" for r in fleet.deliveries().values()) == len(pages))
    fleet.kill("dispatcher")  # SIGKILL during the uploads
    fleet.start("dispatcher")
    rows = fleet.wait_settled(len(pages))

    assert {r["status"] for r in rows.values()} == {"published"}, rows
    assert Counter(p["network"] for p in fleet.received()) == Counter(VIDEO_NETWORKS)
