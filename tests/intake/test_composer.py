"""`GET /v1/composer`, in process (real SQLite, real HTTP, a real nats-server for the link): what the
composer draws itself from. The expected networks, limits and media rules are written down by hand
from the networks' documented rules (shared/design/network-rules.md, shared/networks/options.py's
defaults), never recorded from the answer."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from relais.processes import ManagedProcess
from services.intake.keys import DATABASE
from services.intake.store import delete_page, upsert_page
from shared import bus
from shared.schemas import PageRecord
from tests.intake.conftest import AGENCY, PAGES, Client, NodeFactory, auth
from tests.intake.test_media_relay import start_nats

_ANY = ["thread", "truncate", "reject"]
_CUT = ["truncate", "reject"]
_VISUAL = ["image/gif", "image/jpeg", "image/png", "image/webp", "video/mp4"]
_DOCUMENTS = [
    "application/pdf",
    "application/vnd.oasis.opendocument.presentation",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
]
# The networks that take keywords: SlideShare's `slideshow_tags`, YouTube's `snippet.tags`.
TAKES_TAGS = {"slideshare", "youtube"}
# network: (name, unit, limit, policies, default, takes_title, types, max_images, required, video_alone)
EXPECTED: dict[str, tuple[str, str, int, list[str], str, bool, list[str], int | None, bool, bool]] = {
    "x": ("X", "weighted", 280, _ANY, "thread", False, _VISUAL, 4, False, True),
    "mastodon": ("Mastodon", "graphemes", 500, _ANY, "thread", False, _VISUAL, 4, False, True),
    "bluesky": ("Bluesky", "graphemes", 300, _ANY, "thread", False, _VISUAL, 4, False, True),
    "linkedin": (
        "LinkedIn",
        "characters",
        3000,
        _CUT,
        "truncate",
        False,
        ["image/gif", "image/jpeg", "image/png", "video/mp4"],
        20,
        False,
        True,
    ),
    "instagram": (
        "Instagram",
        "characters",
        2200,
        _CUT,
        "truncate",
        False,
        ["image/jpeg", "video/mp4"],
        10,
        True,
        False,
    ),
    "telegram": ("Telegram", "utf16", 4096, _CUT, "truncate", False, _VISUAL, None, False, False),
    "youtube": ("YouTube", "bytes", 5000, _CUT, "truncate", True, ["video/mp4"], 0, True, False),
    "slideshare": ("SlideShare", "characters", 3000, _CUT, "truncate", True, _DOCUMENTS, 0, True, False),
}


async def composer(client: Client, token: str) -> dict[str, Any]:
    response = await client.get("/v1/composer", headers=auth(token))
    assert response.status == 200, await response.text()
    return dict(await response.json())


async def test_the_composer_offers_the_agencys_networks_with_their_rules_in_registry_order(
    client: Client, tokens: dict[str, str]
) -> None:
    answer = await composer(client, tokens["advisor"])
    assert (answer["agency"], answer["advisor"]) == (AGENCY, "claire")
    # The registry's order (shared/networks/registry.py); no Facebook or Threads page here.
    assert [n["network"] for n in answer["networks"]] == list(EXPECTED)
    for shown in answer["networks"]:
        name, unit, limit, policies, default, title, types, images, required, alone = EXPECTED[
            shown["network"]
        ]
        media = shown["media"]
        assert (shown["name"], shown["unit"], shown["limit"]) == (name, unit, limit), shown["network"]
        chosen = (shown["policies"], shown["default_policy"], shown["takes_title"])
        assert chosen == (policies, default, title), shown["network"]
        assert shown["takes_tags"] == (shown["network"] in TAKES_TAGS), shown["network"]
        assert (media["types"], media["max_images"]) == (types, images), shown["network"]
        assert (media["required"], media["video_alone"]) == (required, alone), shown["network"]
        assert media["video"] == ("video/mp4" in types)
        assert media["documents"] == [t for t in types if t in _DOCUMENTS]
    by_network = {n["network"]: n["media"] for n in answer["networks"]}
    # Sizes and alt text as the networks document them; Telegram's caption limit with media.
    assert by_network["x"]["max_bytes"] == {"image": 5_000_000} and by_network["x"]["max_alt"] == 1000
    assert by_network["bluesky"]["max_bytes"] == {"gif": 2_000_000, "image": 2_000_000, "video": 300_000_000}
    assert by_network["mastodon"]["max_alt"] == 1500 and by_network["bluesky"]["max_alt"] is None
    assert by_network["telegram"]["text_limit"] == 1024 and by_network["x"]["text_limit"] == 280
    assert by_network["slideshare"]["kinds"] == ["document"] and by_network["youtube"]["kinds"] == ["video"]


async def test_the_composer_lists_the_agencys_pages_and_selector(
    client: Client, tokens: dict[str, str]
) -> None:
    db = client.app[DATABASE]
    record = PageRecord(
        page=f"{AGENCY}-facebook",
        network="facebook",
        handle="104857600123",  # a Facebook page is known by its numeric id
        agency=AGENCY,
        region="ara",
        department="69",
        timezone="Europe/Paris",
        credentials_ref="ref/fb",
        agency_name="France Travail Lyon Part-Dieu",
        city="Lyon",
    )
    upsert_page(db, record, msgspec.json.encode(record))
    answer = await composer(client, tokens["advisor"])
    pages = {p["id"]: p for p in answer["pages"]}
    assert set(pages) == {*PAGES.values(), record.page}
    assert pages[record.page] == {
        "id": record.page,
        "network": "facebook",
        "handle": "104857600123",
        "name": "France Travail Lyon Part-Dieu · Facebook",
        "timezone": "Europe/Paris",
        "status": "active",
    }
    # A handle is shown as the network shows it; a page without its agency's name keeps the id.
    assert pages[PAGES["x"]]["handle"] == f"@{PAGES['x']}"
    assert pages[PAGES["x"]]["name"] == f"{AGENCY} · X"
    network_names = {n["name"] for n in answer["networks"]}
    assert not network_names & {p["name"] for p in answer["pages"]}, "a page is never named as a network"
    assert "facebook" in [n["network"] for n in answer["networks"]]
    assert answer["selectors"] == [{"selector": f"agency:{AGENCY}", "pages": len(PAGES) + 1}]

    delete_page(db, PAGES["youtube"])  # the hub took the page away: the network goes with it
    answer = await composer(client, tokens["advisor"])
    assert "youtube" not in [n["network"] for n in answer["networks"]]
    assert answer["selectors"] == [{"selector": f"agency:{AGENCY}", "pages": len(PAGES)}]


async def test_only_the_agencys_advisors_and_admins_see_the_composer(
    client: Client, tokens: dict[str, str], settings: Any
) -> None:
    """The policy: advisors of this agency and admins; another agency's advisor and any other role
    are refused (403), no credential is a 401."""
    assert (await client.get("/v1/composer")).status == 401
    for caller, status, code in (("other_agency", 403, "wrong_agency"), ("ops", 403, "forbidden")):
        response = await client.get("/v1/composer", headers=auth(tokens[caller]))
        assert response.status == status, caller
        assert (await response.json())["error"]["code"] == code
    assert (await client.get("/v1/composer", headers=auth(tokens["expired"]))).status == 401


async def _link_up(client: Client, token: str, expected: bool, within: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while (await composer(client, token))["link_up"] is not expected:
        assert asyncio.get_running_loop().time() < deadline, f"link_up never became {expected}"
        await asyncio.sleep(0.1)


@pytest.fixture
def bus_server(tmp_path: Path) -> Iterator[tuple[ManagedProcess, int]]:
    """A nats-server the test may stop and start again (asked for before the node, so it is
    stopped after the node is closed)."""
    server, port = start_nats(tmp_path / "bus")
    try:
        yield server, port
    finally:
        server.stop()


async def test_link_up_follows_the_nodes_bus_link(
    bus_server: tuple[ManagedProcess, int], make_node: NodeFactory, tokens: dict[str, str]
) -> None:
    """The banner « en attente du hub » shows while the link is down: the answer follows a real
    nats-server stopping and starting again."""
    server, port = bus_server
    hub = await bus.connect(f"nats://127.0.0.1:{port}", bus.hub_client("federation"))
    await bus.ensure_streams(hub.jetstream())
    await hub.close()
    client = await make_node(nats_url=f"nats://127.0.0.1:{port}")
    await _link_up(client, tokens["advisor"], True)
    server.stop()
    await _link_up(client, tokens["advisor"], False)
    assert (await composer(client, tokens["advisor"]))["networks"], "offline, the composer still works"
    server.start()
    server.wait_ready()
    await _link_up(client, tokens["advisor"], True, within=30.0)


async def test_a_node_stops_cleanly_after_its_link_dropped(
    bus_server: tuple[ManagedProcess, int], make_node: NodeFactory, tokens: dict[str, str]
) -> None:
    """A node often stops while the hub is out of reach: its shutdown must not fail for it (nats-py
    raised ConnectionResetError flushing what it held for the lost server)."""
    server, port = bus_server
    hub = await bus.connect(f"nats://127.0.0.1:{port}", bus.hub_client("federation"))
    await bus.ensure_streams(hub.jetstream())
    await hub.close()
    client = await make_node(nats_url=f"nats://127.0.0.1:{port}")
    await _link_up(client, tokens["advisor"], True)
    server.stop()
    await _link_up(client, tokens["advisor"], False)
    await client.close()  # the app's cleanup, as at a SIGTERM
