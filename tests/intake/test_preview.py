"""The preview contract: `POST /v1/preview` and `relais preview --json` answer the same JSON, built
by the same function, showing what each network would receive."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from typing import Any

import pytest

from relais import preview as preview_cli
from relais.cli import main
from shared.networks import KNOWN_NETWORKS
from shared.networks.text import grapheme_count, utf8_len
from tests.intake.conftest import Client, auth, png, stored_posts, upload

LONG = (
    "📍 Job dating à Lyon Part-Dieu ce jeudi\u202f! Plus de 40 entreprises recrutent dans la logistique, "
    "le transport et la vente. Venez avec votre CV\u202f: des conseillers vous accueillent de 9 h à 17 h, "
    "sans rendez-vous. Les offres sont aussi en ligne. #AvecFranceTravail #emploi"
)
LINK = "https://www.francetravail.fr/evenements/lyon"


async def api_preview(client: Client, token: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/v1/preview", json=body, headers=auth(token))
    assert response.status == 200, await response.text()
    return dict(await response.json())


def cli_preview(argv: list[str], stdin: str = "") -> dict[str, Any]:
    """`relais preview ARGV` in process, with `stdin` as standard input; its JSON output."""
    parser = argparse.ArgumentParser()
    preview_cli.add_parser(parser.add_subparsers())
    out = io.StringIO()
    assert preview_cli.run(parser.parse_args(["preview", *argv]), stdin=io.StringIO(stdin), stdout=out) == 0
    return dict(json.loads(out.getvalue()))


async def test_the_api_and_the_cli_answer_the_same_json(client: Client, tokens: dict[str, str]) -> None:
    body = {
        "text": LONG,
        "networks": ["x", "mastodon", "bluesky", "linkedin", "telegram"],
        "link": LINK,
        "policy": {"x": "truncate", "linkedin": "reject"},
        "content_warning": "Recrutement",
    }
    from_api = await api_preview(client, tokens["advisor"], body)
    argv = ["--json", "--link", LINK, "--policy", "x=truncate", "--policy", "linkedin=reject"]
    argv += ["--content-warning", "Recrutement"]
    for network in body["networks"]:
        argv += ["--network", network]
    assert cli_preview([*argv, LONG]) == from_api
    assert cli_preview(argv, stdin=LONG + "\n") == from_api  # the text may come on standard input


def test_the_installed_command_reads_standard_input_and_defaults_to_every_network() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "relais.cli", "preview", "--json"],
        input=LONG,
        capture_output=True,
        text=True,
        check=True,
    )
    shown = json.loads(done.stdout)
    assert [v["network"] for v in shown["variants"]] == list(KNOWN_NETWORKS)


async def test_each_variant_measures_the_text_and_shows_the_parts_to_send(
    client: Client, tokens: dict[str, str]
) -> None:
    shown = await api_preview(
        client, tokens["advisor"], {"text": LONG, "networks": ["x", "bluesky", "mastodon"], "link": LINK}
    )
    x, bluesky, mastodon = shown["variants"]
    assert set(x) == {
        "network",
        "unit",
        "limit",
        "length",
        "fits",
        "policy",
        "other_limits",
        "parts",
        "errors",
        "title",
        "tags",
        "notices",
    }
    # X: too long as written, so the default policy threads it into numbered parts that each fit.
    assert (x["unit"], x["limit"], x["fits"], x["policy"]) == ("weighted", 280, False, "thread")
    assert x["length"] > 280 and len(x["parts"]) == 2 and x["errors"] == []
    assert all(p["length"] <= 280 and "facets" not in p for p in x["parts"])
    assert x["parts"][0]["text"].endswith("1/2") and LINK in x["parts"][1]["text"]
    # Bluesky: graphemes and bytes, and facets in the lexicon's shape on the exact text of each part.
    assert (bluesky["unit"], bluesky["limit"]) == ("graphemes", 300)
    assert [o["unit"] for o in bluesky["other_limits"]] == ["bytes"]
    assert set(bluesky["other_limits"][0]) == {"unit", "limit", "length"}
    facets = [f for part in bluesky["parts"] for f in part["facets"]]
    link = next(f for f in facets if f["features"][0]["$type"] == "app.bsky.richtext.facet#link")
    part = next(p for p in bluesky["parts"] if link in p["facets"])
    raw = part["text"].encode()
    assert raw[link["index"]["byteStart"] : link["index"]["byteEnd"]].decode() == LINK
    assert link["index"]["byteEnd"] <= utf8_len(part["text"])
    # Mastodon: the link counts 23, everything fits in one status.
    assert mastodon["fits"] and mastodon["policy"] is None and len(mastodon["parts"]) == 1


async def test_problems_are_shown_per_network_and_nothing_is_stored(
    client: Client, tokens: dict[str, str]
) -> None:
    image = await upload(client, tokens["advisor"], png())
    body = {
        "text": LONG,
        "link": LINK,
        "networks": ["x", "mastodon", "instagram"],
        "policy": "reject",
        "content_warning": "Offre",
        "media": [{"id": image["id"]}],  # no alt text: shown, not refused
    }
    x, mastodon, instagram = (await api_preview(client, tokens["advisor"], body))["variants"]
    assert [e["code"] for e in x["errors"]] == ["too_long", "alt_text_required"] and x["parts"] == []
    assert [e["code"] for e in mastodon["errors"]] == ["alt_text_required"]
    assert mastodon["length"] == grapheme_count(LONG) + 1 + 23 + len(
        "Offre"
    )  # the warning counts with the text
    assert "unsupported_media_type" in [e["code"] for e in instagram["errors"]]
    assert stored_posts(client) == 0


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"text": "Bonjour", "networks": ["viadeo"]}, 422, "network_retired", "networks[0]"),
        ({"text": "Bonjour", "networks": ["x"], "pages": ["p"]}, 400, "unknown_field", "pages"),
        ({"text": "Bonjour", "networks": ["x"], "policy": "cut"}, 422, "invalid_policy", "policy"),
        ({"text": "", "networks": ["x"]}, 400, "missing_field", "text"),
        (
            {"text": "Bonjour", "networks": ["x"], "media": [{"id": "nope"}]},
            422,
            "unknown_media",
            "media[0].id",
        ),
    ],
)
async def test_a_malformed_preview_gets_a_json_error(
    client: Client, tokens: dict[str, str], body: dict[str, Any], status: int, code: str, field: str
) -> None:
    response = await client.post("/v1/preview", json=body, headers=auth(tokens["advisor"]))
    assert response.status == status
    error = (await response.json())["error"]
    assert (error["code"], error["field"]) == (code, field)


async def test_the_preview_needs_a_token_of_this_agency(client: Client, tokens: dict[str, str]) -> None:
    body = {"text": "Bonjour", "networks": ["x"]}
    assert (await client.post("/v1/preview", json=body)).status == 401
    response = await client.post("/v1/preview", json=body, headers=auth(tokens["other_agency"]))
    assert response.status == 403


def test_the_cli_prints_a_table_without_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preview", "--network", "x", "--network", "bluesky", "--link", LINK, LONG]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NETWORK", "LENGTH", "LIMIT", "UNIT", "FITS", "PARTS", "NOTES"]
    x, bluesky = lines[1].split(), lines[2].split()
    assert x[0] == "x" and x[2:6] == ["280", "weighted", "no", "2"] and int(x[1]) > 280
    assert bluesky[0] == "bluesky" and "bytes" in bluesky
    assert "── x 1/2" in "\n".join(lines)


def test_the_cli_refuses_bad_input_with_the_field(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preview", "--network", "myspace", "Bonjour"]) == 2
    assert "networks[0]" in capsys.readouterr().err
    assert main(["preview", "--policy", "thread", "--policy", "x=reject", "Bonjour"]) == 2
