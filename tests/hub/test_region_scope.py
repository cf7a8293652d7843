"""A regional moderator's territory, at every hub route and in every selector form (finding 5).

Reproduces the review: a `region: bretagne` token created a campaign on
`agency:grenoble-europole` (auto-approved and published), read another region's post and listed
every agency. Expected answers come from the rule in services/hub/scope.py: selectors reaching
any page outside her region are refused (403, naming the selector), lists are cut, one object
outside is a 404.
"""

from __future__ import annotations

from http.client import HTTPConnection
from typing import Any

from shared.tokens import issue_token
from tests.harness import RelaisSystem, eventually, http
from tests.hub.dashboard_client import DashboardSession, create_user

LYON, GRENOBLE, RENNES = "lyon-part-dieu", "grenoble-europole", "rennes-sud"
CAMPAIGN = {"text": "Semaine de l'emploi à {ville} #emploi", "networks": ["mastodon"]}


def _campaign(relais: RelaisSystem, token: str, selectors: list[str]) -> tuple[int, Any]:
    return http("POST", f"{relais.hub_url}/v1/posts", {**CAMPAIGN, "selectors": selectors}, token=token)


def test_a_regional_moderator_stays_in_her_region(relais: RelaisSystem) -> None:
    breton = issue_token(relais.key, role="moderator", subject="breizh", region="bretagne")
    admin = relais.token("admin")

    # Her own region, in every form: accepted (once the hub knows the registry).
    status, body = eventually(lambda: (r := _campaign(relais, breton, ["region:bretagne"]))[0] == 202 and r)
    assert body["status"] == "received"
    for selectors in (["agency:rennes-sud"], ["department:35"], ["page:rennes-sud-mastodon"]):
        status, body = _campaign(relais, breton, selectors)
        assert status == 202, (selectors, body)

    # Anything that may reach a page elsewhere: refused, naming the selector; nothing published.
    outside = [
        (["agency:grenoble-europole"], 0),  # the reported case
        (["nation"], 0),
        (["region:auvergne-rhone-alpes"], 0),
        (["department:38"], 0),
        (["page:grenoble-europole-mastodon"], 0),
        (["agency:nowhere"], 0),  # unknown: cannot be shown to be hers
        (["region:bretagne", "agency:grenoble-europole"], 1),  # an allowed one vouches for nothing
    ]
    for selectors, index in outside:
        status, body = _campaign(relais, breton, selectors)
        assert status == 403, (selectors, body)
        assert body["error"]["code"] == "selector_outside_region", selectors
        assert body["error"]["field"] == f"selectors[{index}]", selectors
    # A national moderator and an admin are not limited.
    national = issue_token(relais.key, role="moderator", subject="nadia")
    assert _campaign(relais, national, ["agency:grenoble-europole"])[0] == 202
    assert _campaign(relais, admin, ["nation"])[0] == 202

    # Another region's post: answered as if it did not exist; her own region's: shown.
    status, lyon = relais.post({"text": "Offre : cariste H/F #emploi", "networks": ["mastodon"]}, agency=LYON)
    assert status == 202
    status, rennes = relais.post(
        {"text": "Offre : cariste H/F #emploi", "networks": ["mastodon"]}, agency=RENNES
    )
    assert status == 202
    eventually(lambda: relais.hub_post(lyon["id"]) and relais.hub_post(rennes["id"]))
    status, body = http("GET", f"{relais.hub_url}/v1/posts/{lyon['id']}", token=breton)
    assert status == 404 and body["error"]["code"] == "not_found"
    # The hub places a post in its region once its page registry has the post's agency: poll.
    eventually(lambda: http("GET", f"{relais.hub_url}/v1/posts/{rennes['id']}", token=breton)[0] == 200)
    # …and her refused read is on the Lyon post's record.
    assert any(
        e["event"] == "permission.denied" and e["actor"] == "breizh" and e["detail"]["status"] == 404
        for e in relais.audit(lyon["id"])
    )

    # Lists: only her region's agencies (the national view has them all).
    def agencies(token: str) -> set[str]:
        status, body = http("GET", f"{relais.hub_url}/v1/agencies", token=token)
        assert status == 200
        return {a["agency"] for a in body["agencies"]}

    eventually(lambda: {LYON, GRENOBLE, RENNES} <= agencies(admin))
    assert agencies(breton) == {RENNES}
    for path, key in (("/v1/schedule", "scheduled"), ("/v1/moderation/queue", "queue")):
        status, body = http("GET", f"{relais.hub_url}{path}", token=breton)
        assert status == 200 and all(item["agency"] == RENNES for item in body[key]), path
    status, body = http("GET", f"{relais.hub_url}/v1/dead-letters", token=breton)
    assert status == 200 and all(item["agency"] == RENNES for rows in body.values() for item in rows), body

    # Policies: hers and the default, not another region's.
    for scope in (f"agency:{LYON}", f"agency:{RENNES}", "page:grenoble-europole-x", "page:rennes-sud-x"):
        assert (
            http("PUT", f"{relais.hub_url}/v1/policies", {"scope": scope, "mode": "auto"}, token=admin)[0]
            == 200
        )
    status, body = http("GET", f"{relais.hub_url}/v1/policies", token=breton)
    assert status == 200
    assert {p["scope"] for p in body["policies"]} == {f"agency:{RENNES}", "page:rennes-sud-x"}


def test_her_live_feed_carries_her_region_only(relais: RelaisSystem) -> None:
    assert create_user(relais.data_dir, "breizh", "moderator", "bretagne").returncode == 0
    desk = DashboardSession(relais.hub_url)
    assert desk.login("breizh") == 303
    cookie = next(c.value for c in desk.jar if c.name == "relais_session")
    feed = HTTPConnection("127.0.0.1", relais.ports.hub, timeout=20)
    feed.request("GET", "/events", headers={"Cookie": f"relais_session={cookie}"})
    stream = feed.getresponse()
    assert stream.status == 200 and stream.getheader("Content-Type") == "text/event-stream"
    try:
        offer = {"text": "Offre : cariste H/F #emploi", "networks": ["mastodon"]}
        status, lyon = relais.post(offer, agency=LYON)
        assert status == 202
        eventually(lambda: relais.hub_post(lyon["id"]))  # told to the feeds before what follows
        status, rennes = relais.post(offer, agency=RENNES)
        assert status == 202
        told: list[str] = []
        while not any(rennes["id"] in line for line in told):
            told.append(stream.readline().decode())
        assert not [line for line in told if lyon["id"] in line or LYON in line]
    finally:
        feed.close()
