"""X entity extraction: the twitter-text conformance cases the X rules rely on."""

from __future__ import annotations

import time
from typing import Any

import pytest

from shared.networks.extract import extract_cashtags, extract_hashtags, extract_mentions, extract_urls

from .vectors import extract_cases, load_yaml


def _params(group: str) -> list[Any]:
    return [pytest.param(case, id=f"{group}-{i}") for i, case in enumerate(extract_cases(group))]


@pytest.mark.parametrize("case", _params("urls") + _params("tco_urls_with_params"))
def test_urls(case: dict[str, Any]) -> None:
    assert [e.value for e in extract_urls(case["text"])] == case["expected"], case["description"]


@pytest.mark.parametrize("case", _params("urls_with_indices") + _params("urls_with_directional_markers"))
def test_urls_with_indices(case: dict[str, Any]) -> None:
    found = [{"url": e.value, "indices": [e.start, e.end]} for e in extract_urls(case["text"])]
    assert found == case["expected"], case["description"]


@pytest.mark.parametrize("case", _params("hashtags") + _params("hashtags_from_astral"))
def test_hashtags(case: dict[str, Any]) -> None:
    assert [e.value for e in extract_hashtags(case["text"])] == case["expected"], case["description"]


@pytest.mark.parametrize("case", _params("hashtags_with_indices"))
def test_hashtags_with_indices(case: dict[str, Any]) -> None:
    found = [{"hashtag": e.value, "indices": [e.start, e.end]} for e in extract_hashtags(case["text"])]
    assert found == case["expected"], case["description"]


@pytest.mark.parametrize("case", _params("mentions"))
def test_mentions(case: dict[str, Any]) -> None:
    assert [e.value for e in extract_mentions(case["text"])] == case["expected"], case["description"]


@pytest.mark.parametrize("case", _params("mentions_with_indices"))
def test_mentions_with_indices(case: dict[str, Any]) -> None:
    found = [{"screen_name": e.value, "indices": [e.start, e.end]} for e in extract_mentions(case["text"])]
    assert found == case["expected"], case["description"]


@pytest.mark.parametrize("case", _params("cashtags"))
def test_cashtags(case: dict[str, Any]) -> None:
    assert [e.value for e in extract_cashtags(case["text"])] == case["expected"], case["description"]


@pytest.mark.parametrize("case", _params("cashtags_with_indices"))
def test_cashtags_with_indices(case: dict[str, Any]) -> None:
    found = [{"cashtag": e.value, "indices": [e.start, e.end]} for e in extract_cashtags(case["text"])]
    assert found == case["expected"], case["description"]


@pytest.mark.parametrize("kind", ["country", "generic"])
def test_every_valid_tld_makes_a_link(kind: str) -> None:
    cases = load_yaml("twitter-text/conformance_tlds.yml")["tests"][kind]
    assert len(cases) > 300
    wrong = [c["text"] for c in cases if [e.value for e in extract_urls(c["text"])] != c["expected"]]
    assert wrong == []


def test_scheme_less_links_need_a_known_tld() -> None:
    assert [e.value for e in extract_urls("voir francetravail.fr et dossier.pdf ou cv.docx")] == [
        "francetravail.fr"
    ]


@pytest.mark.parametrize(
    "text",
    [
        "a." * 3000 + "com",
        "a-" * 3000 + ".com",
        "http://" + "a_" * 3000 + ".com",
        ("a." * 126 + "-.com.") * 10,
    ],
)
def test_runs_of_dots_and_dashes_take_linear_time(text: str) -> None:
    # Unbounded label repetition took minutes on the first of these (backtracking). This thread's CPU
    # time, not the wall clock: the other test processes may deschedule it, never add work to it.
    started = time.thread_time()
    extract_urls(text)
    assert time.thread_time() - started < 2.0


def test_no_link_is_found_inside_a_label_longer_than_dns_allows() -> None:
    # twitter-text matches the whole label, then rejects it: so no link, not a tail of it.
    assert extract_urls("é" * 70 + ".com/une/longue/route") == []
    assert [e.value for e in extract_urls("日本語example.com")] == ["example.com"]
