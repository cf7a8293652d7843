"""Video on Facebook, LinkedIn and Bluesky, as the rules see it before anything is queued: an MP4 is
taken (no longer `unsupported_media_type`), alone; with images it is `too_many_media`. The
expected answers are the networks' documented rules, written here by hand."""

from __future__ import annotations

import pytest

from shared.networks import render_for_network
from shared.networks.media import MediaItem, media_problems

VIDEO_NETWORKS = ["facebook", "linkedin", "bluesky"]


@pytest.mark.parametrize("network", VIDEO_NETWORKS)
def test_an_mp4_is_taken(network: str) -> None:
    assert (
        media_problems(network, [MediaItem("video/mp4", 5_000_000, "Vidéo du salon")], require_alt=True) == []
    )
    assert render_for_network(network, "Le salon en vidéo", media=["video"]).errors == []


@pytest.mark.parametrize("network", VIDEO_NETWORKS)
def test_a_video_goes_alone(network: str) -> None:
    rendering = render_for_network(network, "Le salon", media=["image", "video"])
    assert [error.code for error in rendering.errors] == ["too_many_media"]


@pytest.mark.parametrize(("network", "cap"), [("linkedin", 500_000_000), ("bluesky", 300_000_000)])
def test_a_video_over_the_documented_size_is_refused(network: str, cap: int) -> None:
    assert media_problems(network, [MediaItem("video/mp4", cap, "v")], require_alt=True) == []
    [problem] = media_problems(network, [MediaItem("video/mp4", cap + 1, "v")], require_alt=True)
    assert problem.error.code == "media_too_large"


@pytest.mark.parametrize("network", VIDEO_NETWORKS)
def test_other_video_containers_stay_refused(network: str) -> None:
    [problem] = media_problems(network, [MediaItem("video/quicktime", 1000, "v")], require_alt=True)
    assert problem.error.code == "unsupported_media_type"
