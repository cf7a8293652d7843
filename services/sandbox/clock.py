"""The networks' clock, scripted for replies (sandbox-only, like the faults and the incoming traffic).

- `POST /_sandbox/clock/replies` `{"network": "mastodon", "dates": {"<in_reply_to_id>": <unix time>, …}}`:
  the network's emulator dates the status that answers each of those ids with that time (Mastodon: its
  `created_at`, and the time the sandbox stores it under); every other status keeps the real time.
  A later call for the same id replaces its date. Answers 200 `{"dated": <how many ids>}`; 400 with the
  reason for a network whose emulator takes no dates, or dates that are not Unix times up to now.

It lets a benchmark replay a year of questions at compressed time: every reply is sent at real speed,
concurrently, yet each is dated as the simulated agent answered it (bench/bench_inbox_year.py). A dated
status lies outside the emulator's one-hour idempotency window and the dispatcher's look-back for an
interrupted call (both count from the status's date): use it without faults armed.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from .people import refused

__all__ = ["DATED_NETWORKS", "REPLY_DATES", "add_routes", "is_past_time", "reply_date"]

DATED_NETWORKS = frozenset({"mastodon"})  # the emulators that call `reply_date`
REPLY_DATES = web.AppKey("sandbox_reply_dates", dict[tuple[str, str], float])
_MAX_DATES = 100_000  # a year of questions (bench_inbox_year: 14,770) in one call


def is_past_time(value: object, now: float) -> bool:
    """A Unix time (a finite number) from 0 to `now`: a date a network could have given."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 <= value <= now
    )


def reply_date(app: web.Application, network: str, reply_to: str | None) -> datetime | None:
    """The date scripted for a status of `network` answering `reply_to`; None: the real time."""
    if reply_to is None:
        return None
    moment = app[REPLY_DATES].get((network, reply_to))
    return None if moment is None else datetime.fromtimestamp(moment, UTC)


async def _set(request: web.Request) -> web.Response:
    try:
        data: Any = await request.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return refused('send a JSON object {"network", "dates": {"<in_reply_to_id>": <unix time>}}')
    network = data.get("network")
    if network not in DATED_NETWORKS:
        return refused(f"network must be one whose emulator dates replies: {sorted(DATED_NETWORKS)}")
    dates = data.get("dates")
    if not isinstance(dates, dict) or not 1 <= len(dates) <= _MAX_DATES:
        return refused(f"dates must map 1 to {_MAX_DATES} status ids to Unix times")
    now = time.time()
    for status_id, moment in dates.items():
        if not status_id or not is_past_time(moment, now):
            return refused(f"the date of {status_id!r} must be a Unix time from 0 to now")
    book = request.app[REPLY_DATES]
    book.update({(str(network), status_id): float(moment) for status_id, moment in dates.items()})
    return web.json_response({"dated": len(dates)})


def add_routes(app: web.Application) -> None:
    app[REPLY_DATES] = {}
    app.router.add_post("/_sandbox/clock/replies", _set)
