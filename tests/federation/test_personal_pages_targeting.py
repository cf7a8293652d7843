"""Personal pages in targeting (issue #16 item 4), as an attacker would try them.

The policy, written by hand: an advocate's personal account (a registry page with an `owner`) is
reached by its owner's shares only. Selectors (every form: nation, region, department, agency, page)
and networks-only posts never resolve to one, nor do campaigns; an explicit target to one is valid
only in a share whose advocate is its owner, else the post is invalid with a reason naming the page;
a share reaches only its advocate's personal pages (never the agency's page, never another
advocate's, never by selectors). At the node, the pages a post may name are never personal ones."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
import sqlite_utils

from services.federation.targeting import target_post
from services.intake.store import agency_pages, open_store, upsert_page
from shared.advocacy.accounts import ShareOf, personal_page
from shared.schemas import PageRecord, PostReceived, Target
from shared.targeting import first_selector_outside, resolve

AGENCY = "lyon-part-dieu"
CLAIRE = "adv-claireclaireclairecl"
YANN = "adv-yannyannyannyannyann"


def page(page_id: str, network: str, owner: str = "") -> PageRecord:
    return PageRecord(
        page=page_id,
        network=network,
        handle=page_id,
        agency=AGENCY,
        region="ara",
        department="69",
        timezone="Europe/Paris",
        credentials_ref=f"advocate:{owner}:{network}" if owner else f"ref/{page_id}",
        owner=owner,
    )


REGISTRY = {
    p.page: p
    for p in [
        page(f"{AGENCY}-x", "x"),
        page(f"{AGENCY}-mastodon", "mastodon"),
        page(personal_page(CLAIRE, "x"), "x", CLAIRE),
        page(personal_page(CLAIRE, "mastodon"), "mastodon", CLAIRE),
        page(personal_page(YANN, "x"), "x", YANN),
    ]
}


def post(
    targets: list[str] | None = None, *, selectors: list[str] | None = None, advocate: str | None = None
) -> PostReceived:
    return PostReceived(
        post_id=f"{AGENCY}-01P",
        agency=AGENCY,
        occurred_at="2026-12-05T09:00:00Z",
        author=advocate or "claire",
        text="Le salon ouvre jeudi.",
        targets=[Target(REGISTRY[t].network if t in REGISTRY else "x", t) for t in targets or []],
        selectors=selectors or [],
        networks=["x", "mastodon"] if selectors else [],
        share=ShareOf(story="s-1", advocate=advocate) if advocate else None,
    )


@pytest.mark.parametrize(
    "selector", ["nation", "region:ara", "department:69", f"agency:{AGENCY}", f"page:{CLAIRE}-x"]
)
def test_no_selector_resolves_to_a_personal_page(selector: str) -> None:
    reached = {p.page for p in resolve([selector], ["x", "mastodon"], REGISTRY.values())}
    assert not any(REGISTRY[p].owner for p in reached)
    # A campaign's selector that can reach only a personal page reaches nothing: refused up front.
    assert first_selector_outside([f"page:{CLAIRE}-x"], REGISTRY.values(), lambda p: True) == 0


def test_an_advisors_ordinary_post_naming_an_advocates_personal_page_is_invalid() -> None:
    result = target_post(post([f"{AGENCY}-x", personal_page(YANN, "x")]), REGISTRY)
    assert result.targets == []
    assert result.reasons == [
        f"page {YANN}-x is an advocate's personal account: only her own shares go there"
    ]


def test_a_share_naming_the_agencys_page_is_invalid() -> None:
    result = target_post(post([personal_page(CLAIRE, "x"), f"{AGENCY}-mastodon"], advocate=CLAIRE), REGISTRY)
    assert result.targets == []
    assert result.reasons == [
        f"page {AGENCY}-mastodon is not one of {CLAIRE}'s personal accounts, where a share goes"
    ]


def test_a_share_naming_another_advocates_page_is_invalid() -> None:
    result = target_post(post([personal_page(YANN, "x")], advocate=CLAIRE), REGISTRY)
    assert result.targets == [] and result.reasons == [
        f"page {YANN}-x is an advocate's personal account: only her own shares go there"
    ]


@pytest.mark.parametrize("selectors", [[f"agency:{AGENCY}"], ["nation"], [f"page:{CLAIRE}-x"]])
def test_a_share_never_goes_by_selectors(selectors: list[str]) -> None:
    result = target_post(post(selectors=selectors, advocate=CLAIRE), REGISTRY)
    assert result.targets == [] and len(result.reasons) == 1


def test_a_share_from_a_node_naming_another_agencys_advocate_is_invalid() -> None:
    """A hostile node may publish any body on its own subjects: an advocate of Rennes's page, in a
    share said to be by her but written at Lyon, is another agency's page."""
    rennes = msgspec.structs.replace(
        page(personal_page(YANN, "linkedin"), "linkedin", YANN), agency="rennes-sud"
    )
    registry = {**REGISTRY, rennes.page: rennes}
    result = target_post(post([rennes.page], advocate=YANN), registry)
    assert result.targets == [] and result.reasons == [
        f"page {rennes.page} is not one of agency {AGENCY}'s pages"
    ]


def test_a_share_without_pages_is_invalid() -> None:
    result = target_post(post([], advocate=CLAIRE), REGISTRY)
    assert result.targets == [] and len(result.reasons) == 1


def test_a_share_reaches_its_advocates_own_pages() -> None:
    result = target_post(
        post([personal_page(CLAIRE, "x"), personal_page(CLAIRE, "mastodon")], advocate=CLAIRE), REGISTRY
    )
    assert result.reasons == []
    assert [(t.network, t.page) for t in result.targets] == [
        ("x", f"{CLAIRE}-x"),
        ("mastodon", f"{CLAIRE}-mastodon"),
    ]


def test_the_node_never_offers_a_personal_page_to_a_post(tmp_path: Path) -> None:
    """A networks-only post at the node goes to `agency_pages`: the agency's own pages only."""
    db: sqlite_utils.Database = open_store(tmp_path / "intake.db")
    for record in REGISTRY.values():
        upsert_page(db, record, msgspec.json.encode(record))
    assert agency_pages(db) == {f"{AGENCY}-x": "x", f"{AGENCY}-mastodon": "mastodon"}
