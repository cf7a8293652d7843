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
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import sqlite_utils

from services.hub import dead_letters
from services.hub.store import agencies, queued, scheduled_posts
from shared.schemas import PostRendered

__all__ = [
    "CALENDAR_ZONE",
    "ONLINE_WITHIN",
    "Scope",
    "agency_rows",
    "dead_letter_lists",
    "delivery_counts",
    "failed_deliveries",
    "hourly_deliveries",
    "post_counts",
    "queue_items",
    "recent_posts",
    "week",
]

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


def recent_posts(db: sqlite_utils.Database, scope: Scope, limit: int = 30) -> list[dict[str, Any]]:
    rows = db.execute_returning_dicts(
        "select post_id, agency, status, reason, updated_at from post_states"
        " order by updated_at desc limit ?",
        [limit * 20 if scope.regional else limit],  # a region's posts are among the latest of all
    )
    posts = [r for r in rows if scope.allows(r["agency"])][:limit]
    by_post: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if posts:
        marks = ", ".join("?" for _ in posts)
        for d in db.execute_returning_dicts(
            f"select post_id, network, page, status, throttled_until from delivery_states"
            f" where post_id in ({marks})"
            " order by network, page",
            [p["post_id"] for p in posts],
        ):
            by_post[d["post_id"]].append(d)
    return [{**p, "deliveries": by_post[p["post_id"]]} for p in posts]


def queue_items(db: sqlite_utils.Database, scope: Scope) -> list[dict[str, Any]]:
    items = []
    for row in queued(db):
        if not scope.allows(row["agency"]):
            continue
        rendered = msgspec.json.decode(row["rendered"].encode(), type=PostRendered)
        first = rendered.variants[0].parts if rendered.variants else []
        items.append(
            {
                "post_id": row["post_id"],
                "agency": row["agency"],
                "region": scope.region_of(row["agency"]),
                "author": row["author"],
                "queued_at": row["queued_at"],
                "schedule_at": rendered.schedule_at,
                "text": "\n".join(first),
                "original": row.get("text"),  # what the advisor wrote: what an edit starts from
                "pages": [f"{v.network}:{v.page}" for v in rendered.variants],
            }
        )
    return items


def agency_rows(db: sqlite_utils.Database, scope: Scope, now: datetime) -> list[dict[str, Any]]:
    rows = []
    for row in agencies(db):
        if scope.allows(row["agency"]):
            seen = datetime.fromisoformat(row["last_seen"])
            rows.append(
                {**row, "region": scope.region_of(row["agency"]), "online": now - seen <= ONLINE_WITHIN}
            )
    return rows


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


def week(db: sqlite_utils.Database, scope: Scope, now: datetime) -> list[tuple[date, list[dict[str, Any]]]]:
    """The next seven days (from today, Paris time) with the approved posts due on each."""
    today = now.astimezone(CALENDAR_ZONE).date()
    days: dict[date, list[dict[str, Any]]] = {today + timedelta(days=i): [] for i in range(7)}
    seen: set[tuple[str, str]] = set()
    for row in scheduled_posts(db):
        due = datetime.fromisoformat(row["due_at"]).astimezone(CALENDAR_ZONE)
        key = (row["post_id"], row["due_at"])
        if due.date() in days and key not in seen and scope.allows(row["agency"]):
            seen.add(key)  # one line per post and time, whatever the number of its pages
            days[due.date()].append({**row, "time": due.strftime("%H:%M")})
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
