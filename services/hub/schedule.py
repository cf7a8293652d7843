"""When each page of an approved post is due, and what the late rule says. Pure functions.

`schedule_at` with a UTC offset is one instant for every page; without one it is a wall-clock time
in each page's own timezone (09:00 in Paris and 09:00 in Réunion are different instants). A page
whose time passed before the post could be released is published late while within the grace
period, and expires beyond it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.schemas import Variant


@dataclass(frozen=True)
class ReleasePlan:
    now: list[Variant] = field(default_factory=list)
    later: dict[datetime, list[Variant]] = field(default_factory=dict)  # due instant (UTC) → variants
    expired: list[Variant] = field(default_factory=list)


def due_at(schedule_at: str, timezone: str) -> datetime:
    moment = datetime.fromisoformat(schedule_at)
    if moment.tzinfo is None:
        try:
            moment = moment.replace(tzinfo=ZoneInfo(timezone or "UTC"))
        except ZoneInfoNotFoundError:
            moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    return moment.astimezone(ZoneInfo("UTC"))


def plan_release(
    schedule_at: str | None, variants: list[Variant], now: datetime, grace: timedelta
) -> ReleasePlan:
    if not schedule_at:
        return ReleasePlan(now=list(variants))
    plan = ReleasePlan()
    later: dict[datetime, list[Variant]] = defaultdict(list)
    for variant in variants:
        due = due_at(schedule_at, variant.timezone)
        if due > now:
            later[due].append(variant)
        elif now - due <= grace:
            plan.now.append(variant)
        else:
            plan.expired.append(variant)
    plan.later.update(sorted(later.items()))
    return plan


def late_reason(schedule_at: str, grace: timedelta) -> str:
    minutes = int(grace.total_seconds() // 60)
    return (
        f"its time ({schedule_at}) had passed by more than the {minutes}-minute grace period"
        " when it could be published"
    )
