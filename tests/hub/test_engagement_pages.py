"""The engagement read back from the networks, shown at the hub's dashboard (issue #15 item 6): the
Engagement section of `GET /reports` and a post's drill-down `GET /dashboard/posts/{post_id}`, on the
real hub app with the fixed month of tests/hub/inbox_report_data.py in its real hub.db (its
`delivery_engagement` rows written by hand there), real HTTP.

The policy, written by hand:
- a delivery counts with its latest age's figures (7d, else 24h, else 1h); a figure no delivery of a
  row gives is « – », never 0 (Bluesky gives no views); 0 given is 0;
- /reports: a chart per figure, by ISO week of publication (P1 and P3 in 2026-W45, P2 in 2026-W47),
  each named in words, with the table of its numbers; a row per network and a row for all networks;
- the drill-down: the figures summed per network (deliveries measured, each figure; its size grows
  with the networks, never with the pages), and once an agency is chosen each of its deliveries'
  latest figures with the age and the moment they were measured at;
- a regional moderator sees her region's deliveries' figures only, on both pages.
"""

from __future__ import annotations

from shared.sqlite_writes import write_transaction
from tests.accessible_page import AccessiblePage
from tests.hub.hub_app import Hub
from tests.hub.inbox_report_data import CASA, CASA_REGION, LYON, measure
from tests.hub.test_dashboard_national import text_of
from tests.hub.test_inbox_report_api import report_hub
from tests.hub.test_inbox_report_page import NOVEMBER, fetch, signed_in

__all__ = ["report_hub"]  # the fixture, used here

HEAD = ["posts published", "views", "likes", "shares or reposts", "replies"]
# P1 on Mastodon at 7d (5, 2, 1, 120), P1 on Bluesky at 24h (2, 0, 0, no views), P3 on Facebook at 7d
# (10, 4, 2, 300); P2 on Mastodon has none; P4 (December) is not November's.
WEEKS = [["2026-W45", "3", "420", "17", "6", "3"], ["2026-W47", "1", "–", "–", "–", "–"]]
NETWORKS = [
    ["bluesky", "1", "–", "2", "0", "0"],
    ["facebook", "1", "300", "10", "4", "2"],
    ["mastodon", "2", "120", "5", "2", "1"],
    ["all networks", "4", "420", "17", "6", "3"],
]
NATIONAL = "lyon-part-dieu-01JNATIONAL0000000000000001"


async def test_the_months_engagement_per_week_and_per_network(report_hub: Hub) -> None:
    session = await signed_in(report_hub, "nadia", "moderator")
    status, html = await fetch(report_hub, f"{NOVEMBER}&lang=en", session)
    assert status == 200
    page = AccessiblePage(html)
    weeks, networks = page.tables[-2:]
    assert weeks.caption == "Engagement per week (the ISO week the post was published in)"
    assert weeks.texts() == [["week", *HEAD], *WEEKS]
    assert networks.caption == "Engagement per network"
    assert networks.texts() == [["network", *HEAD], *NETWORKS]
    assert [row[0].scope for row in networks.rows[1:]] == ["row"] * 4
    # A chart per figure, named in words, each bar titled; the week without figures has no bar.
    for name in ("Views", "Likes", "Shares or reposts"):
        assert f'aria-label="{name} of the posts published, per ISO week of publication"' in html
    assert 'aria-label="Replies to the posts published, per ISO week of publication"' in html
    assert "<title>2026-W45, views: 420</title>" in html
    assert "<title>2026-W45, shares or reposts: 6</title>" in html
    assert "<title>2026-W47," not in html.split('id="h-engagement"')[1]


async def test_the_engagement_in_french_and_arabic(report_hub: Hub) -> None:
    session = await signed_in(report_hub, "nadia", "moderator")
    _, html = await fetch(report_hub, NOVEMBER, session)
    networks = AccessiblePage(html).tables[-1]
    assert networks.texts()[0] == [
        "réseau",
        "publications",
        "vues",
        "mentions J’aime",
        "partages",
        "réponses",
    ]
    assert networks.texts()[1] == ["bluesky", "1", "–", "2", "0", "0"]
    assert "<title>2026-W45, vues : 420</title>" in html
    _, html = await fetch(report_hub, f"{NOVEMBER}&lang=ar", session)
    assert '<h2 id="h-engagement">التفاعل</h2>' in html and "التفاعل حسب الشبكة" in html


async def test_a_month_without_posts_says_so_without_charts(report_hub: Hub) -> None:
    session = await signed_in(report_hub, "nadia", "moderator")
    _, html = await fetch(report_hub, "/reports?month=2026-10&lang=en", session)
    engagement = html.split('id="h-engagement"')[1]
    assert "No post published in this month." in engagement and "<svg" not in engagement


async def test_a_regional_moderator_sees_her_regions_engagement_only(report_hub: Hub) -> None:
    session = await signed_in(report_hub, "amina", "moderator", region=CASA_REGION)
    _, html = await fetch(report_hub, f"{NOVEMBER}&lang=en", session)
    weeks, networks = AccessiblePage(html).tables[-2:]
    assert weeks.texts()[1:] == [["2026-W45", "1", "300", "10", "4", "2"]]
    assert networks.texts()[1:] == [
        ["facebook", "1", "300", "10", "4", "2"],
        ["all networks", "1", "300", "10", "4", "2"],
    ]
    assert "<title>2026-W45, views: 300</title>" in html


def national_post(hub: Hub, measured: bool = True) -> None:
    """A post of Lyon's published on Lyon's two pages and two of Casablanca's, measured on each."""
    deliveries = [
        (f"{LYON}-mastodon", LYON),
        (f"{LYON}-bluesky", LYON),
        (f"{CASA}-facebook", CASA),
        (f"{CASA}-mastodon", CASA),
    ]
    with write_transaction(hub.db):
        hub.db.table("post_states").insert(
            {
                "post_id": NATIONAL,
                "agency": LYON,
                "status": "published",
                "reason": "",
                "updated_at": "2026-11-03",
            }
        )
        for page, agency in deliveries:
            network = page.rsplit("-", 1)[1]
            hub.db.table("delivery_states").insert(
                {
                    "post_id": NATIONAL,
                    "page": page,
                    "network": network,
                    "agency": agency,
                    "status": "published",
                    "updated_at": "2026-11-03",
                }
            )
    if not measured:
        return
    measure(hub.db, NATIONAL, f"{LYON}-mastodon", "1h", likes=1, shares=0, replies=0, views=10)
    measure(hub.db, NATIONAL, f"{LYON}-mastodon", "24h", likes=3, shares=1, replies=0, views=50)
    measure(hub.db, NATIONAL, f"{LYON}-bluesky", "7d", likes=2, shares=0, replies=4, views=None)
    measure(hub.db, NATIONAL, f"{CASA}-facebook", "1h", likes=7, shares=0, replies=1, views=90)
    row = {
        "post_id": NATIONAL,
        "page": f"{CASA}-mastodon",
        "age": "7d",
        "agency": CASA,
        "network": "mastodon",
    }
    hub.db.table("delivery_engagement").insert(
        {**row, "remote_id": "2", "measured_at": "2026-11-10T09:00:00+00:00", "likes": 1, "shares": 1}
        | {"replies": 1, "views": 5}
    )


def table_headed(html: str, *head: str) -> list[list[str]]:
    """The rows of the page's table whose header row starts with `head`."""
    tables = [t.texts() for t in AccessiblePage(html).tables]
    return next(t for t in tables if t[0][: len(head)] == list(head))


PER_NETWORK = ("network", "deliveries measured", "views", "likes", "shares or reposts", "replies")
PER_PAGE = ("network", "page", "measured", "views", "likes", "shares or reposts", "replies")


async def test_a_posts_drill_down_shows_the_figures_per_network_and_per_page(report_hub: Hub) -> None:
    national_post(report_hub)
    session = await signed_in(report_hub, "nadia", "moderator")
    status, html = await fetch(report_hub, f"/dashboard/posts/{NATIONAL}?lang=en", session)
    assert status == 200
    assert table_headed(html, *PER_NETWORK)[1:] == [
        ["bluesky", "1", "–", "2", "0", "4"],
        ["facebook", "1", "90", "7", "0", "1"],
        ["mastodon", "2", "55", "4", "2", "1"],  # Lyon's at 24h (50, 3, 1, 0) and Casablanca's at 7d
    ]
    assert "Figures of the pages of" not in html  # each page's: once an agency is chosen

    status, html = await fetch(report_hub, f"/dashboard/posts/{NATIONAL}?agency={LYON}&lang=en", session)
    rows = [
        [n, page, measured.split(",")[0], *counts]
        for n, page, measured, *counts in table_headed(html, *PER_PAGE)
    ]
    assert rows[1:] == [
        ["bluesky", f"{LYON}-bluesky", "after 7 days", "–", "2", "0", "4"],
        ["mastodon", f"{LYON}-mastodon", "after 24 hours", "50", "3", "1", "0"],
    ]
    assert '<time datetime="2026-11-30T00:00:00.000000+00:00">' in html  # when it was measured
    _, html = await fetch(report_hub, f"/dashboard/posts/{NATIONAL}?agency={LYON}&lang=fr", session)
    assert "Chiffres renvoyés par les réseaux" in html and "après 24 heures" in text_of(html)


async def test_a_regional_moderator_sees_her_regions_figures_of_a_post(report_hub: Hub) -> None:
    national_post(report_hub)
    regional = await signed_in(report_hub, "amina", "moderator", region=CASA_REGION)
    status, html = await fetch(report_hub, f"/dashboard/posts/{NATIONAL}?lang=en", regional)
    assert status == 200
    assert table_headed(html, *PER_NETWORK)[1:] == [
        ["facebook", "1", "90", "7", "0", "1"],
        ["mastodon", "1", "5", "1", "1", "1"],
    ]
    _, html = await fetch(report_hub, f"/dashboard/posts/{NATIONAL}?agency={LYON}&lang=en", regional)
    assert f"{LYON}-mastodon" not in html and f"{LYON}-bluesky" not in html
    assert "Figures of the pages of" not in html
    _, html = await fetch(report_hub, f"/dashboard/posts/{NATIONAL}?agency={CASA}&lang=en", regional)
    assert [row[1] for row in table_headed(html, *PER_PAGE)[1:]] == [f"{CASA}-facebook", f"{CASA}-mastodon"]


async def test_a_post_not_yet_measured_says_so(report_hub: Hub) -> None:
    national_post(report_hub, measured=False)
    session = await signed_in(report_hub, "nadia", "moderator")
    for path in (f"/dashboard/posts/{NATIONAL}?lang=en", f"/dashboard/posts/{NATIONAL}?agency={LYON}"):
        _, html = await fetch(report_hub, path, session)
        assert "No figure read back yet." in html, path
