"""The Bluesky emulator refuses caption files as the lexicon does (`app.bsky.embed.video#caption`:
`lang` in the `language` format, `file` a `text/vtt` blob of at most 20,000 bytes, at most 20 of
them): the policy is written here by hand from the lexicon, not read from the emulator."""

from __future__ import annotations

from typing import Any

import pytest

from services.sandbox.bluesky_records import post_problem

VIDEO = {"$type": "blob", "ref": {"$link": "bafkvideo"}, "mimeType": "video/mp4", "size": 1_000}


def caption(lang: Any = "fr", mime: str = "text/vtt", size: int = 100) -> dict[str, Any]:
    return {
        "lang": lang,
        "file": {"$type": "blob", "ref": {"$link": "bafkvtt"}, "mimeType": mime, "size": size},
    }


def record(*captions: dict[str, Any]) -> dict[str, Any]:
    embed = {"$type": "app.bsky.embed.video", "video": VIDEO, "alt": "Replay", "captions": list(captions)}
    return {"text": "Replay", "createdAt": "2026-12-05T10:00:00Z", "embed": embed}


@pytest.mark.parametrize("lang", ["fr", "ar", "pt-BR", "zh-Hant-TW", "en-GB"])
def test_well_formed_captions_are_taken(lang: str) -> None:
    assert post_problem(record(caption(lang), caption("de", size=20_000))) is None


@pytest.mark.parametrize(
    ("captions", "problem"),
    [
        ([caption("<script>")], "captions/0/lang must be a well-formed BCP 47 language tag"),
        ([caption("fr"), caption("")], "captions/1/lang must be a well-formed BCP 47 language tag"),
        ([caption("fr\n")], "captions/0/lang must be a well-formed BCP 47 language tag"),
        ([caption(7)], 'captions/0 must have the property "lang"'),
        ([caption(mime="image/png")], "captions/0/file/mimeType must be one of text/vtt"),
        ([caption(size=20_001)], "captions/0/file blob too big (maximum 20000, got 20001)"),
        ([caption()] * 21, "captions must be a list of at most 20 captions"),
    ],
)
def test_captions_the_lexicon_forbids_are_refused(captions: list[dict[str, Any]], problem: str) -> None:
    found = post_problem(record(*captions))
    assert found is not None and found.endswith(problem), found
