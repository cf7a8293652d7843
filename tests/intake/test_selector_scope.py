"""An agency node reaches its own pages only, whatever mix of selectors it is sent (finding 12:
`["agency:<self>", "agency:<other>"]` was accepted because the first selector ended the check).

Every selector of the list is judged; only `agency:<self>` and `page:<own page>` pass, any other
form is a 403 naming the field of the first selector that reaches further, and nothing is stored.
Behind it, the federation refuses the same post if an agency publishes it on the bus directly.
"""

from __future__ import annotations

import pytest

from services.federation.targeting import target_post
from shared.schemas import PageRecord, PostReceived, Target
from tests.intake.conftest import AGENCY, PAGES, Client, auth, stored_posts

OWN = f"agency:{AGENCY}"
OWN_PAGE = f"page:{PAGES['mastodon']}"


@pytest.mark.parametrize(
    ("selectors", "index"),
    [
        ([OWN, "agency:rennes-sud"], 1),  # the reported case
        (["agency:rennes-sud", OWN], 0),
        ([OWN_PAGE, "page:rennes-sud-mastodon"], 1),
        ([OWN, "nation"], 1),
        ([OWN, "region:ara"], 1),  # even its own region reaches other agencies
        ([OWN, "department:69"], 1),
        ([OWN_PAGE, OWN, "agency:grenoble-europole"], 2),
    ],
)
async def test_selectors_beyond_the_agency_are_refused(
    client: Client, tokens: dict[str, str], selectors: list[str], index: int
) -> None:
    body = {"text": "Atelier CV #emploi", "networks": ["mastodon"], "selectors": selectors}
    response = await client.post("/v1/posts", json=body, headers=auth(tokens["advisor"]))
    assert response.status == 403
    error = (await response.json())["error"]
    assert (error["code"], error["field"]) == ("selector_outside_agency", f"selectors[{index}]")
    assert stored_posts(client) == 0


async def test_its_own_selectors_are_accepted(client: Client, tokens: dict[str, str]) -> None:
    for selectors in ([OWN], [OWN_PAGE], [OWN_PAGE, OWN]):
        body = {"text": "Atelier CV #emploi", "networks": ["mastodon"], "selectors": selectors}
        response = await client.post("/v1/posts", json=body, headers=auth(tokens["advisor"]))
        assert response.status == 202, await response.text()


def _page(page: str, agency: str) -> PageRecord:
    return PageRecord(
        page=page,
        network="mastodon",
        handle=page,
        agency=agency,
        region="ara",
        department="69",
        timezone="Europe/Paris",
        credentials_ref=f"ref/{page}",
    )


def test_the_federation_keeps_an_agencys_post_on_its_own_pages() -> None:
    """An agency's NATS user can publish `posts.<self>.*` with any selectors or pages, bypassing
    its intake: the federation targets nothing outside that agency either."""
    registry = {p.page: p for p in (_page("lyon-m", AGENCY), _page("grenoble-m", "grenoble-europole"))}

    def post(agency: str, **fields: object) -> PostReceived:
        return PostReceived(
            post_id=f"{agency}-1",
            agency=agency,
            occurred_at="2026-01-01T00:00:00+00:00",
            author="claire",
            text="Bonjour",
            networks=["mastodon"],
            **fields,  # type: ignore[arg-type]
        )

    for fields in (
        {"selectors": [OWN, "agency:grenoble-europole"]},
        {"selectors": ["nation"]},
        {"targets": [Target("mastodon", "lyon-m"), Target("mastodon", "grenoble-m")]},
    ):
        result = target_post(post(AGENCY, **fields), registry)
        assert result.targets == [] and "grenoble-m" in result.reasons[0], fields
    assert [t.page for t in target_post(post(AGENCY, selectors=[OWN]), registry).targets] == ["lyon-m"]
    campaign = target_post(post("hub", selectors=["nation"]), registry)  # written at the hub
    assert sorted(t.page for t in campaign.targets) == ["grenoble-m", "lyon-m"]
