"""What the dashboard shows, read from the hub's SQLite and cut to what the viewer may see.

Every function takes a `Scope`: a regional moderator sees the agencies of their region, everyone
else (national moderators, admins, ops) every agency, by the same rule as the moderation API.
Counts come from `post_states`/`delivery_states` (kept current as events arrive) and the chart
from the audit itself. Plain data out; `dashboard_html` renders it.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
import sqlite_utils

from services.hub import dead_letters
from services.hub.engagement import figures_by_page
from services.hub.inbox_report import engagement_sums
from services.hub.store import agencies, post_texts, queued
from shared.schemas import PostApproved, PostRendered

__all__ = [
    "CALENDAR_ZONE",
    "CAMPAIGN_PAGES",
    "ONLINE_WITHIN",
    "Scope",
    "agency_groups",
    "campaign",
    "dead_letter_lists",
    "delivery_counts",
    "failed_deliveries",
    "hourly_deliveries",
    "post_counts",
    "queue_items",
    "recent_posts",
    "week",
]

CAMPAIGN_PAGES = 12  # past this many deliveries, a post is counted per network and status, not listed
PREVIEW_PAGES = 8  # pages named under a queued preview; the others are counted
# A campaign whose text has per-page variables ({city}) renders differently for each page: the queue
# shows a network's first renderings and counts the others.
PREVIEWS_PER_NETWORK = 3
ONLINE_WITHIN = timedelta(seconds=30)  # agency nodes beat every 5 s; six missed beats is offline
CALENDAR_ZONE = ZoneInfo("Europe/Paris")  # the moderators' wall clock for the week's plan


@dataclass(frozen=True)
class Scope:
    allows: Callable[[str], bool]  # may the viewer see this agency's posts (moderation's rule)
    region_of: Callable[[str], str | None]
    regional: bool  # only some agencies are visible: read more rows to fill a list


def post_counts(db: sqlite_utils.Database, scope: Scope) -> dict[str, Counter[str]]:
    """agency → status → number of posts."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for agency, status, n in db.execute(
        "select agency, status, count(*) from post_states group by agency, status order by agency"
    ):
        if scope.allows(agency):
            counts[agency][status] += n
    return dict(counts)


def delivery_counts(db: sqlite_utils.Database, scope: Scope) -> dict[str, Counter[str]]:
    """network → delivery status → number of deliveries."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for agency, network, status, n in db.execute(
        "select agency, network, status, count(*) from delivery_states group by agency, network, status"
    ):
        if scope.allows(agency):
            counts[network][status] += n
    return dict(sorted(counts.items()))


def _delivery_groups(
    db: sqlite_utils.Database, post_ids: list[str]
) -> dict[str, list[tuple[str, str, str, int]]]:
    """post → (page's agency, network, status, number of deliveries): a campaign in a few rows."""
    groups: dict[str, list[tuple[str, str, str, int]]] = defaultdict(list)
    if post_ids:
        marks = ", ".join("?" for _ in post_ids)
        for post_id, agency, network, status, n in db.execute(
            "select post_id, agency, network, status, count(*) from delivery_states"
            f" where post_id in ({marks}) group by 1, 2, 3, 4",
            post_ids,
        ):
            groups[post_id].append((agency, network, status, n))
    return groups


def recent_posts(db: sqlite_utils.Database, scope: Scope, limit: int = 30) -> list[dict[str, Any]]:
    """The latest posts with their text; a post's deliveries one by one, or, past `CAMPAIGN_PAGES`,
    counted per network and status (the drill-down lists them). A regional viewer sees the posts
    of her region's agencies and the parts of a campaign that reached them, and counts only those."""
    rows = db.execute_returning_dicts(
        "select post_id, agency, status, reason, updated_at from post_states"
        " order by updated_at desc limit ?",
        [limit * 20 if scope.regional else limit],  # a region's posts are among the latest of all
    )
    groups = _delivery_groups(db, [r["post_id"] for r in rows])
    posts = []
    for row in rows:
        mine = [g for g in groups[row["post_id"]] if scope.allows(g[0])]
        if not (scope.allows(row["agency"]) or mine):
            continue
        counts: dict[str, Counter[str]] = defaultdict(Counter)
        for _agency, network, status, n in mine:
            counts[network][status] += n
        total = sum(sum(c.values()) for c in counts.values())
        posts.append({**row, "total": total, "counts": dict(sorted(counts.items())), "deliveries": []})
        if len(posts) == limit:
            break
    texts = post_texts(db, [p["post_id"] for p in posts])
    few = [p for p in posts if p["total"] <= CAMPAIGN_PAGES]
    by_post: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if few:
        marks = ", ".join("?" for _ in few)
        for d in db.execute_returning_dicts(
            f"select post_id, agency, network, page, status, throttled_until from delivery_states"
            f" where post_id in ({marks}) order by network, page",
            [p["post_id"] for p in few],
        ):
            if scope.allows(d["agency"]):
                by_post[d["post_id"]].append(d)
    for post in posts:
        post["text"] = texts.get(post["post_id"], "")
        post["campaign"] = post["total"] > CAMPAIGN_PAGES
        post["deliveries"] = by_post[post["post_id"]]
    return posts


def campaign(
    db: sqlite_utils.Database, scope: Scope, post_id: str, agency: str | None = None
) -> dict[str, Any] | None:
    """One post's deliveries for the drill-down: counts per network and status, per region and per
    agency, the pages of one agency when asked, and the figures read back from the networks (per
    network; per page for that agency). None when the viewer may see none of it."""
    post = next(
        iter(
            db.execute_returning_dicts(
                "select post_id, agency, status, reason, updated_at from post_states where post_id = ?",
                [post_id],
            )
        ),
        None,
    )
    if post is None:
        return None
    rows = [
        (a, network, status, n)
        for a, network, status, n in db.execute(
            "select agency, network, status, count(*) from delivery_states where post_id = ?"
            " group by 1, 2, 3 order by 1, 2, 3",
            [post_id],
        )
        if scope.allows(a)
    ]
    if not (scope.allows(post["agency"]) or rows):
        return None
    by_network: dict[str, Counter[str]] = defaultdict(Counter)
    regions: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    for a, network, status, n in rows:
        by_network[network][status] += n
        regions[scope.region_of(a) or ""][a][status] += n
    pages: list[dict[str, Any]] = []
    if agency is not None and any(a == agency for a, *_ in rows):
        pages = db.execute_returning_dicts(
            "select network, page, status, throttled_until, updated_at from delivery_states"
            " where post_id = ? and agency = ? order by network, page",
            [post_id, agency],
        )
    return {
        **post,
        "text": post_texts(db, [post_id]).get(post_id, ""),
        "by_network": dict(sorted(by_network.items())),
        "regions": {
            region: {
                "totals": sum(agencies_.values(), Counter()),
                "agencies": dict(sorted(agencies_.items())),
            }
            for region, agencies_ in sorted(regions.items())
        },
        "agency": agency if pages else None,
        "pages": pages,
        **_figures(latest_figures(db, scope, post_id), agency if pages else None),
    }


def _figures(measured: list[dict[str, Any]], agency: str | None) -> dict[str, Any]:
    """The figures read back, as the drill-down shows them: summed per network (its size grows with
    the networks, never with the pages), and each of one agency's deliveries when its pages are shown."""
    by_network: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in measured:
        by_network[row["network"]].append(row)
    return {
        "engagement": {
            network: {"measured": len(rows), **engagement_sums(rows)}
            for network, rows in sorted(by_network.items())
        },
        "figures": [row for row in measured if row["agency"] == agency],
    }


def latest_figures(db: sqlite_utils.Database, scope: Scope, post_id: str) -> list[dict[str, Any]]:
    """The figures of each delivery of the post in the viewer's scope at the latest age they were
    measured at (7d, else 24h, else 1h), by network and page; deliveries not yet measured are left out."""
    measured = figures_by_page(db, post_id)  # youngest age first
    return [
        {"agency": agency, "network": network, "page": page, **measured[page][-1]}
        for agency, network, page in db.execute(
            "select agency, network, page from delivery_states where post_id = ? order by network, page",
            [post_id],
        )
        if page in measured and scope.allows(agency)
    ]


def queue_items(db: sqlite_utils.Database, scope: Scope) -> list[dict[str, Any]]:
    """Queued posts with what each network will receive: the formatter's parts (variants of one
    network that render alike share a preview; past `PREVIEWS_PER_NETWORK`, renderings are counted)
    and the pages they go to, with the media's alt text."""
    items = []
    for row in queued(db):
        if not scope.allows(row["agency"]):
            continue
        rendered = msgspec.json.decode(row["rendered"].encode(), type=PostRendered)
        previews: dict[tuple[str, tuple[str, ...], str | None], dict[str, Any]] = {}
        seen_unshown: set[tuple[str, tuple[str, ...], str | None]] = set()
        shown: Counter[str] = Counter()  # network → previews shown
        unshown: dict[str, Counter[str]] = defaultdict(Counter)  # network → renderings, pages not shown
        for v in rendered.variants:
            key = (v.network, tuple(v.parts), v.title)
            if key not in previews and shown[v.network] == PREVIEWS_PER_NETWORK:
                unshown[v.network]["pages"] += 1
                unshown[v.network]["renderings"] += key not in seen_unshown
                seen_unshown.add(key)
                continue
            if key not in previews:
                shown[v.network] += 1
            preview = previews.setdefault(
                key, {"network": v.network, "parts": v.parts, "title": v.title, "pages": [], "more": 0}
            )
            if len(preview["pages"]) < PREVIEW_PAGES:
                preview["pages"].append(v.page)
            else:
                preview["more"] += 1
        items.append(
            {
                "post_id": row["post_id"],
                "agency": row["agency"],
                "region": scope.region_of(row["agency"]),
                "author": row["author"],
                "queued_at": row["queued_at"],
                "schedule_at": rendered.schedule_at,
                "original": row.get("text"),  # what the advisor wrote: what an edit starts from
                "previews": list(previews.values()),
                "unshown": [{"network": n, **counts} for n, counts in unshown.items()],
                "media": [{"content_type": m.content_type, "alt": m.alt} for m in rendered.media],
                "content_warning": rendered.content_warning,
            }
        )
    return items


def agency_groups(
    db: sqlite_utils.Database,
    scope: Scope,
    now: datetime,
    registry: dict[str, dict[str, str]],
    search: str = "",
    link: str = "",
) -> list[dict[str, Any]]:
    """Agencies grouped by region (the registry's and those heard from), filtered by a search on
    their id, name, city or region and by their link (`online`, `offline`, or any)."""
    heard = {row["agency"]: row for row in agencies(db)}
    needle = search.casefold().strip()
    regions: dict[str, dict[str, Any]] = {}
    for agency in sorted(set(registry) | set(heard)):
        if not scope.allows(agency):
            continue
        known = registry.get(agency, {})
        row = heard.get(agency)
        online = row is not None and now - datetime.fromisoformat(row["last_seen"]) <= ONLINE_WITHIN
        region = known.get("region") or scope.region_of(agency) or ""
        words_ = (agency, known.get("name", ""), known.get("city", ""), region, known.get("region_name", ""))
        if needle and not any(needle in w.casefold() for w in words_):
            continue
        if (link == "online" and not online) or (link == "offline" and online):
            continue
        group = regions.setdefault(
            region, {"region": region, "name": known.get("region_name") or region, "rows": [], "online": 0}
        )
        group["online"] += online
        group["rows"].append(
            {
                "agency": agency,
                "name": known.get("name", ""),
                "city": known.get("city", ""),
                "online": online,
                "last_seen": row["last_seen"] if row else None,
                "outbox_pending": row["outbox_pending"] if row else 0,
            }
        )
    return sorted(regions.values(), key=lambda g: str(g["name"]).casefold())


def dead_letter_lists(db: sqlite_utils.Database, scope: Scope) -> dict[str, list[dict[str, Any]]]:
    """Open dead letters and pages to reconnect, as dead_letters.py keeps them."""
    lists = dead_letters._open(db)
    return {name: [r for r in rows if scope.allows(r["agency"])] for name, rows in lists.items()}


def failed_deliveries(db: sqlite_utils.Database, scope: Scope, limit: int = 20) -> list[dict[str, Any]]:
    rows = db.execute_returning_dicts(
        "select post_id, agency, network, page, status, updated_at from delivery_states"
        " where status in ('failed', 'unconfirmed') order by updated_at desc limit ?",
        [limit * 20 if scope.regional else limit],
    )
    return [r for r in rows if scope.allows(r["agency"])][:limit]


@cache
def _zone(name: str) -> ZoneInfo:
    """A page's time zone; a name no zone has is shown in Paris time rather than failing the page."""
    try:
        return ZoneInfo(name)
    except (ValueError, ZoneInfoNotFoundError):
        return CALENDAR_ZONE


def week(db: sqlite_utils.Database, scope: Scope, now: datetime) -> list[tuple[date, list[dict[str, Any]]]]:
    """The next seven days (from today, Paris time) with the approved posts due on each, and for
    each its pages' local time, one line per time zone (a campaign's pages are counted)."""
    today = now.astimezone(CALENDAR_ZONE).date()
    days: dict[date, list[dict[str, Any]]] = {today + timedelta(days=i): [] for i in range(7)}
    held = db.execute_returning_dicts(
        "select post_id, agency, due_at, approval from schedule order by due_at"
    )
    texts = post_texts(db, list({row["post_id"] for row in held}))
    entries: dict[tuple[str, str], dict[str, Any]] = {}  # one per post and time, whatever its pages
    for row in held:
        due = datetime.fromisoformat(row["due_at"]).astimezone(CALENDAR_ZONE)
        approval = msgspec.json.decode(row["approval"].encode(), type=PostApproved)
        mine = [v for v in approval.variants if scope.allows(v.agency or row["agency"])]
        if due.date() not in days or not (mine or scope.allows(row["agency"])):
            continue
        entry = entries.get((row["post_id"], row["due_at"]))
        if entry is None:
            entry = entries[(row["post_id"], row["due_at"])] = {
                "post_id": row["post_id"],
                "agency": row["agency"],
                "due_at": row["due_at"],
                "time": due.strftime("%H:%M"),
                "text": texts.get(row["post_id"], ""),
                "zones": {},
            }
            days[due.date()].append(entry)
        for v in mine:
            local = _zone(v.timezone)
            zone = entry["zones"].setdefault(
                local.key,
                {
                    "zone": local.key,
                    "time": due.astimezone(local).strftime("%H:%M"),
                    "pages": [],
                    "more": 0,
                },
            )
            if len(zone["pages"]) < PREVIEW_PAGES:
                zone["pages"].append(f"{v.network}:{v.page}")
            else:
                zone["more"] += 1
    for entry in entries.values():
        entry["zones"] = [entry["zones"][name] for name in sorted(entry["zones"])]
    return list(days.items())


def hourly_deliveries(
    db: sqlite_utils.Database, scope: Scope, now: datetime, hours: int = 24
) -> tuple[list[str], dict[str, dict[str, int]]]:
    """The last `hours` hours (UTC, "YYYY-MM-DDTHH") and, per network, deliveries published in each."""
    end = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    labels = [(end - timedelta(hours=h)).strftime("%Y-%m-%dT%H") for h in reversed(range(hours))]
    per_network: dict[str, dict[str, int]] = defaultdict(dict)
    for hour, agency, network, n in db.execute(
        "select substr(occurred_at, 1, 13), agency, network, count(*) from audit"
        " where event = 'delivery.published' and occurred_at >= ? group by 1, 2, 3",
        [labels[0]],
    ):
        if scope.allows(agency) and network:
            per_network[network][hour] = per_network[network].get(hour, 0) + n
    return labels, dict(sorted(per_network.items()))


def error_message(error: Any) -> str:
    """A dead letter's or alert's error, as the person reading the dashboard needs it."""
    if isinstance(error, str):
        error = json.loads(error)
    if isinstance(error, dict):
        code = error.get("network_code")
        return f"{error.get('message', '')}{f' ({code})' if code else ''}"
    return ""
