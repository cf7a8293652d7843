"""X weighted length: twitter-text's 44 conformance cases, each under the config it names."""

from __future__ import annotations

from typing import Any

import pytest

from shared.networks.weighted import (
    TWITTER_V2,
    TWITTER_V3,
    TwitterTextConfig,
    parse_weighted,
    weighted_length,
)

from .vectors import load_json

CONFIGS = {"v2": TWITTER_V2, "v3": TWITTER_V3}


def _cases() -> list[Any]:
    groups = load_json("twitter-text/twitter_weighted_length_vectors.json")["groups"]
    cases = []
    for name, group in groups.items():
        for index, case in enumerate(group["cases"]):
            cases.append(pytest.param(group["config"], case, id=f"{name}-{index}"))
    return cases


CASES = _cases()


def test_all_44_weighted_cases_are_collected() -> None:
    assert len(CASES) == 44


@pytest.mark.parametrize(("config", "case"), CASES)
def test_weighted_length_conformance(config: str, case: dict[str, Any]) -> None:
    # Groups without an explicit config run under twitter-text 3's default, v3.
    result = parse_weighted(case["text"], CONFIGS.get(config, TWITTER_V3))
    assert result.weighted_length == case["expected"]["weightedLength"], case["description"]
    assert result.valid == case["expected"]["valid"], case["description"]


@pytest.mark.parametrize("version", ["v2", "v3"])
def test_builtin_configs_equal_twitter_text_json(version: str) -> None:
    assert TwitterTextConfig.from_json(load_json(f"twitter-text/config_{version}.json")) == CONFIGS[version]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\u202f", 2),  # narrow no-break space before « ! ? ; : » is outside the light ranges
        ("\u00a0", 1),
        ("…", 2),
        ("€", 2),
        ("«\u202fOui\u202f»", 9),  # « and » are light, the narrow spaces are not
        ("ⵣ", 2),  # Tifinagh
        ("ع", 1),  # Arabic is below U+10FF
        ("©", 1),  # text presentation: a character, not an emoji
        ("©\ufe0f", 2),  # emoji presentation: one emoji
        ("🧑\u200d💻", 2),  # ZWJ sequence newer than twitter-text's emoji list
        ("🏳\ufe0f\u200d⚧\ufe0f", 2),
        ("👷🏽\u200d♀\ufe0f", 2),
        ("🇫🇷🇲🇦", 4),
        ("1\ufe0f\u20e3", 2),
        ("x.com/jack", 23),
        ("francetravail.fr", 23),
        ("https://www.francetravail.fr/candidat/offres?motsCles=cuisinier&lieux=35238", 23),
    ],
)
def test_weights_that_matter_for_french_posts(text: str, expected: int) -> None:
    assert weighted_length(text) == expected


def test_nfd_text_is_counted_as_nfc() -> None:
    nfd = "#AvecPo\u0302leEmploi"
    assert weighted_length(nfd) == weighted_length("#AvecPôleEmploi") == 15


def test_invalid_characters_make_the_text_invalid_but_count() -> None:
    result = parse_weighted("Bonjour\ufeff")
    assert result.weighted_length == 9
    assert not result.valid
