"""Loading the test vectors and the corpus under `tests/data/` (see its README for provenance)."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import yaml

DATA = Path(__file__).resolve().parents[1] / "data"
VECTORS = DATA / "vectors"


@functools.cache
def load_json(relative: str) -> Any:
    """A JSON file under `tests/data/vectors/`."""
    return json.loads((VECTORS / relative).read_text(encoding="utf-8"))


@functools.cache
def load_yaml(relative: str) -> Any:
    """A YAML file under `tests/data/vectors/`."""
    return yaml.safe_load((VECTORS / relative).read_text(encoding="utf-8"))


@functools.cache
def corpus() -> list[dict[str, str]]:
    """The job-service posts of `tests/data/corpus_posts.json`."""
    posts: list[dict[str, str]] = json.loads((DATA / "corpus_posts.json").read_text(encoding="utf-8"))[
        "posts"
    ]
    return posts


def extract_cases(group: str) -> list[dict[str, Any]]:
    """The cases of one group of twitter-text's `conformance/extract.yml`."""
    cases: list[dict[str, Any]] = load_yaml("twitter-text/conformance_extract.yml")["tests"][group]
    return cases
