"""Limits that protect the networks and the page's reputation: a text is at most 10,000 characters,
and a thread at most `RELAIS_MAX_THREAD_PARTS` parts (10) on any network, refused up front at
`POST /v1/posts` and shown as an error of that network's variant at preview (API and CLI).

The expected answers come from the policy, not from today's responses: eleven paragraphs of 250
characters cannot share an X post (280), so X needs exactly eleven parts.
"""

from __future__ import annotations

import argparse
import io
import json
from typing import Any

import pytest

from relais import preview as preview_cli
from shared import config
from tests.intake.conftest import Client, NodeFactory, auth, stored_posts


def paragraphs(count: int, size: int = 250) -> str:
    """`count` paragraphs of `size` characters of plain words, each alone in one X part."""
    made = []
    for number in range(1, count + 1):
        head = f"Paragraphe {number:02d} :"
        words = " ".join(["emploi"] * size)
        made.append((head + " " + words)[:size].rstrip())
    return "\n\n".join(made)


ELEVEN_X_PARTS = paragraphs(11)


async def test_a_text_over_10000_characters_is_refused_naming_the_limit(
    client: Client, tokens: dict[str, str]
) -> None:
    body = {"text": "a" * 10_001, "networks": ["linkedin"]}
    for path in ("/v1/posts", "/v1/preview"):
        response = await client.post(path, json=body, headers=auth(tokens["advisor"]))
        assert response.status == 422, path
        error = (await response.json())["error"]
        assert error["code"] == "text_too_long" and error["field"] == "text"
        assert "limit of 10,000" in error["message"] and "10,001 characters" in error["message"]
    assert stored_posts(client) == 0

    # 10,000 is still allowed (LinkedIn truncates it into one post).
    response = await client.post(
        "/v1/posts", json={"text": "a " * 5_000, "networks": ["linkedin"]}, headers=auth(tokens["advisor"])
    )
    assert response.status == 202, await response.text()


async def test_a_post_needing_more_thread_parts_than_the_limit_is_refused(
    client: Client, tokens: dict[str, str]
) -> None:
    body = {"text": ELEVEN_X_PARTS, "networks": ["linkedin", "x"]}
    response = await client.post("/v1/posts", json=body, headers=auth(tokens["advisor"]))

    assert response.status == 422, await response.text()
    error = (await response.json())["error"]
    assert (error["code"], error["field"]) == ("too_many_parts", "text")
    message = error["message"]
    assert message.startswith("x:") and "11 parts" in message and "limit of 10" in message
    assert stored_posts(client) == 0

    # Ten parts are within the limit.
    response = await client.post(
        "/v1/posts", json={"text": paragraphs(10), "networks": ["x"]}, headers=auth(tokens["advisor"])
    )
    assert response.status == 202, await response.text()


async def test_the_preview_shows_the_parts_limit_as_an_error_of_that_networks_variant(
    client: Client, tokens: dict[str, str]
) -> None:
    body = {"text": ELEVEN_X_PARTS, "networks": ["x", "linkedin"]}
    response = await client.post("/v1/preview", json=body, headers=auth(tokens["advisor"]))
    assert response.status == 200, await response.text()
    variants = {v["network"]: v for v in (await response.json())["variants"]}

    x = variants["x"]
    assert [e["code"] for e in x["errors"]] == ["too_many_parts"]
    assert "11 parts" in x["errors"][0]["message"] and "limit of 10" in x["errors"][0]["message"]
    assert x["parts"] == []  # nothing is sent for a refused variant
    assert variants["linkedin"]["errors"] == [] and len(variants["linkedin"]["parts"]) == 1


def cli_preview(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    preview_cli.add_parser(parser.add_subparsers())
    out = io.StringIO()
    assert preview_cli.run(parser.parse_args(["preview", *argv]), stdout=out) == 0
    return dict(json.loads(out.getvalue()))


def test_the_cli_preview_applies_the_same_limit_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    shown = cli_preview(["--json", "--network", "x", ELEVEN_X_PARTS])
    assert [e["code"] for e in shown["variants"][0]["errors"]] == ["too_many_parts"]

    monkeypatch.setenv("RELAIS_MAX_THREAD_PARTS", "20")
    shown = cli_preview(["--json", "--network", "x", ELEVEN_X_PARTS])
    assert shown["variants"][0]["errors"] == [] and len(shown["variants"][0]["parts"]) == 11


async def test_a_higher_limit_from_the_setting_accepts_the_same_post(
    make_node: NodeFactory, tokens: dict[str, str]
) -> None:
    options = config.network_options({"RELAIS_MAX_THREAD_PARTS": "20"})
    client = await make_node(network_options=options)
    body = {"text": ELEVEN_X_PARTS, "networks": ["x"]}

    response = await client.post("/v1/preview", json=body, headers=auth(tokens["advisor"]))
    variant = (await response.json())["variants"][0]
    assert variant["errors"] == [] and len(variant["parts"]) == 11
    response = await client.post("/v1/posts", json=body, headers=auth(tokens["advisor"]))
    assert response.status == 202, await response.text()


def test_the_setting_must_be_a_positive_number_of_parts() -> None:
    assert config.network_options({}).max_thread_parts == 10
    for wrong in ("0", "-1", "ten"):
        with pytest.raises(ValueError, match="RELAIS_MAX_THREAD_PARTS"):
            config.network_options({"RELAIS_MAX_THREAD_PARTS": wrong})
