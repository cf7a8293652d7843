"""A small fixed month of advocacy in a real hub.db (topics, stories, shares, their deliveries and
engagement), for the advocacy figures' tests; and `fill_advocates`, many advocates sharing one story,
for measuring the report's time. The figures expected of the month are worked out by hand in the
tests, never read from the report.

November 2026, the hub's zone Europe/Paris (UTC+1). Agencies (the registry): Lyon and Villeurbanne
(auvergne-rhone-alpes), Casablanca (casablanca-settat), Rennes (bretagne), Marseille (provence).
Topics: `emploi-jeunes` optional, for everyone; `salons-ara` required, for the region
auvergne-rhone-alpes; `ateliers-casa` required, for the agency Casablanca; `numerique` required, for
the region bretagne and the agency Lyon. Shares (S6 is December's in Paris):
  S1 Lyon, s-salon (salons-ara), x + mastodon, approved, 3 Nov; x measured at 1h and 24h (24h counts:
     likes 4, shares 1, replies 0, views 40), mastodon at 7d (likes 2, shares 0, replies 1, no views);
  S2 Lyon, s-num (numerique), x, invalid (a near-duplicate), 4 Nov, no delivery;
  S3 Villeurbanne, s-salon, linkedin, approved, 10 Nov, stored without a region, delivery pending;
  S4 Casablanca, s-atelier (ateliers-casa), x, approved, 31 Oct 23:30 UTC (1 Nov in Paris), published,
     measured at 1h: likes 0, shares 0, replies 0, no views;
  S5 Casablanca, s-jeunes (emploi-jeunes), bluesky, approved, 20 Nov, published, never measured;
  S6 Villeurbanne, s-salon, x, approved, 30 Nov 23:30 UTC (1 Dec in Paris), published, likes 100;
  S7 Lyon, s-num, mastodon, rejected by a moderator, 25 Nov, no delivery;
  S8 Casablanca, s-atelier, x, queued for moderation, 15 Nov, no delivery;
  S9 Lyon, s-salon-lyon (salons-ara), linkedin, approved, 12 Nov, published, at 7d likes 3, shares 0,
     replies 0, views 100.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import sqlite_utils

from shared.advocacy.accounts import personal_page

LYON, VILLEURBANNE, CASA = "lyon-part-dieu", "villeurbanne", "casablanca-anfa"
RENNES, MARSEILLE = "rennes-centre", "marseille-canebiere"
ARA, CASA_REGION, BRETAGNE, PROVENCE = "auvergne-rhone-alpes", "casablanca-settat", "bretagne", "provence"
REGISTRY = {LYON: ARA, VILLEURBANNE: ARA, CASA: CASA_REGION, RENNES: BRETAGNE, MARSEILLE: PROVENCE}

TOPICS = {  # id: (required, regions, agencies)
    "emploi-jeunes": (False, [], []),
    "salons-ara": (True, [ARA], []),
    "ateliers-casa": (True, [], [CASA]),
    "numerique": (True, [BRETAGNE], [LYON]),
}
STORIES = {
    "s-jeunes": "emploi-jeunes",
    "s-salon": "salons-ara",
    "s-salon-lyon": "salons-ara",
    "s-atelier": "ateliers-casa",
    "s-num": "numerique",
}


def advocate(number: int) -> str:
    """A well-formed pseudonym (`shared.advocacy.accounts.is_advocate_id`) for a number."""
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    digits = ""
    for _ in range(20):
        number, rest = divmod(number, 32)
        digits = alphabet[rest] + digits
    return f"adv-{digits}"


def write_topics(db: sqlite_utils.Database, topics: dict[str, tuple[bool, list[str], list[str]]]) -> None:
    db.table("advocacy_topics").insert_all(
        {
            "id": topic,
            "titles": json.dumps({"fr": f"Sujet {topic}", "ar": f"موضوع {topic}"}),
            "required": int(required),
            "regions": json.dumps(regions),
            "agencies": json.dumps(agencies),
            "version": 1,
            "updated_by": "nadia",
            "updated_at": "2026-10-01T00:00:00Z",
        }
        for topic, (required, regions, agencies) in topics.items()
    )


def write_stories(db: sqlite_utils.Database, stories: dict[str, str]) -> None:
    db.table("advocacy_stories").insert_all(
        {
            "id": story,
            "topic": topic,
            "link": f"https://www.francetravail.fr/{story}",
            "texts": json.dumps({"fr": "Venez !"}),
            "hashtag": "#AvecPôleEmploi",
            "media": "[]",
            "expires_at": "2027-01-01T00:00:00Z",
            "status": "approved",
            "author": "nadia",
            "written_at": "2026-10-01T00:00:00Z",
        }
        for story, topic in stories.items()
    )


def share(
    db: sqlite_utils.Database,
    post_id: str,
    who: int,
    agency: str,
    story: str,
    networks: list[str],
    status: str,
    received_at: datetime,
    *,
    region: str | None = None,
    published: tuple[str, ...] = (),
    pending: tuple[str, ...] = (),
) -> None:
    """A share as the hub stores it, with its deliveries' states (`published` or `pending`)."""
    db.table("advocacy_shares").insert(
        {
            "post_id": post_id,
            "story": story,
            "topic": STORIES.get(story, story),
            "advocate": advocate(who),
            "agency": agency,
            "region": REGISTRY.get(agency, "") if region is None else region,
            "networks": json.dumps(networks),
            "text": "Mon agence vous attend au salon",
            "status": status,
            "reason": "",
            "received_at": received_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }
    )
    states = [(n, "published") for n in published] + [(n, "pending") for n in pending]
    db.table("delivery_states").insert_all(
        {
            "post_id": post_id,
            "page": personal_page(advocate(who), network),
            "network": network,
            "agency": agency,
            "status": status_,
            "updated_at": received_at.isoformat(),
        }
        for network, status_ in states
    )


def measure(
    db: sqlite_utils.Database,
    post_id: str,
    who: int,
    agency: str,
    network: str,
    age: str,
    **figures: int | None,
) -> None:
    db.table("delivery_engagement").insert(
        {
            "post_id": post_id,
            "page": personal_page(advocate(who), network),
            "age": age,
            "agency": agency,
            "network": network,
            "remote_id": "1",
            "measured_at": "2026-12-01T00:00:00.000000+00:00",
            **{name: figures.get(name) for name in ("likes", "shares", "replies", "views")},
        }
    )


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def fill_november(db: sqlite_utils.Database, *, heard_from: bool = True) -> None:
    """The month; with `heard_from`, the registry's agencies in the hub's `agencies` table too (as
    when each node has been heard from: what `relais report` knows agencies by)."""
    write_topics(db, TOPICS)
    write_stories(db, STORIES)
    for agency in REGISTRY if heard_from else ():
        db.table("agencies").insert(
            {"agency": agency, "last_seen": "2026-11-01T00:00:00Z", "outbox_pending": 0}
        )
    share(
        db,
        "S1",
        1,
        LYON,
        "s-salon",
        ["x", "mastodon"],
        "approved",
        utc(11, 3, 9),
        published=("x", "mastodon"),
    )
    measure(db, "S1", 1, LYON, "x", "1h", likes=1, shares=0, replies=0, views=10)
    measure(db, "S1", 1, LYON, "x", "24h", likes=4, shares=1, replies=0, views=40)
    measure(db, "S1", 1, LYON, "mastodon", "7d", likes=2, shares=0, replies=1, views=None)
    share(db, "S2", 2, LYON, "s-num", ["x"], "invalid", utc(11, 4, 10))
    share(
        db,
        "S3",
        3,
        VILLEURBANNE,
        "s-salon",
        ["linkedin"],
        "approved",
        utc(11, 10, 8),
        region="",
        pending=("linkedin",),
    )
    share(db, "S4", 4, CASA, "s-atelier", ["x"], "approved", utc(10, 31, 23, 30), published=("x",))
    measure(db, "S4", 4, CASA, "x", "1h", likes=0, shares=0, replies=0, views=None)
    share(db, "S5", 5, CASA, "s-jeunes", ["bluesky"], "approved", utc(11, 20, 14), published=("bluesky",))
    share(db, "S6", 6, VILLEURBANNE, "s-salon", ["x"], "approved", utc(11, 30, 23, 30), published=("x",))
    measure(db, "S6", 6, VILLEURBANNE, "x", "7d", likes=100, shares=100, replies=100, views=100)
    share(db, "S7", 7, LYON, "s-num", ["mastodon"], "rejected", utc(11, 25, 9))
    share(db, "S8", 8, CASA, "s-atelier", ["x"], "queued", utc(11, 15, 9))
    share(
        db, "S9", 9, LYON, "s-salon-lyon", ["linkedin"], "approved", utc(11, 12, 9), published=("linkedin",)
    )
    measure(db, "S9", 9, LYON, "linkedin", "7d", likes=3, shares=0, replies=0, views=100)


NETWORKS = ("x", "linkedin", "mastodon", "bluesky")


CAMPAIGN_START = utc(11, 2, 8)


def fill_advocates(
    db: sqlite_utils.Database, advocates: int = 1500, start: datetime = CAMPAIGN_START
) -> None:
    """`advocates` advocates of 100 agencies sharing one story on the four networks within an hour,
    each delivery published and measured at 24h: the rows of one campaign, written in bulk."""
    write_topics(db, {"campagne": (True, [], [])})
    write_stories(db, {"s-campagne": "campagne"})
    agencies = [f"agence-{n:03d}" for n in range(100)]
    shares, states, figures = [], [], []
    for n in range(advocates):
        agency, post_id = agencies[n % len(agencies)], f"share-{n:05d}"
        at = (start + timedelta(seconds=n * 3600 // advocates)).isoformat().replace("+00:00", "Z")
        shares.append(
            {
                "post_id": post_id,
                "story": "s-campagne",
                "topic": "campagne",
                "advocate": advocate(n),
                "agency": agency,
                "region": f"region-{n % 13:02d}",
                "networks": json.dumps(NETWORKS),
                "text": f"Texte {n}",
                "status": "approved",
                "reason": "",
                "received_at": at,
            }
        )
        for network in NETWORKS:
            page = personal_page(advocate(n), network)
            states.append(
                {
                    "post_id": post_id,
                    "page": page,
                    "network": network,
                    "agency": agency,
                    "status": "published",
                    "updated_at": at,
                }
            )
            figures.append(
                {
                    "post_id": post_id,
                    "page": page,
                    "age": "24h",
                    "agency": agency,
                    "network": network,
                    "remote_id": "1",
                    "measured_at": at,
                    "likes": n % 7,
                    "shares": n % 3,
                    "replies": n % 2,
                    "views": None if network == "mastodon" else n % 50,
                }
            )
    db.table("advocacy_shares").insert_all(shares, batch_size=1000)
    db.table("delivery_states").insert_all(states, batch_size=1000)
    db.table("delivery_engagement").insert_all(figures, batch_size=1000)
