"""Dashboard benchmark at the France registry's scale: a campaign to its 1,016 pages (233 agencies,
13 regions), folded into the hub's SQLite as the hub folds it, then the dashboard's sections and the
campaign's drill-down rendered with the real templates, in French.

Run with `python -m bench.bench_dashboard` (or `python -m bench`). One line per figure:

- `dashboard_campaign`: the bytes of the latest posts section (the campaign counted per network and
  status), of the drill-down by region and agency, of one agency's pages, and of the agencies
  section (every agency, grouped by region), with the render times (p50/p95 over the repetitions).

Exits non-zero when a view outgrows its budget: what a moderator loads must grow with the agencies
reached, never with the pages (a line per delivery would be ~150 KB at this scale).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from relais.system import DEMO_CSV  # noqa: E402
from services.federation.registry import parse_pages_csv  # noqa: E402
from services.hub.dashboard_data import Scope, agency_groups, campaign, recent_posts  # noqa: E402
from services.hub.dashboard_html import agencies_section, campaign_section, posts_section  # noqa: E402
from services.hub.post_states import refresh_post_state  # noqa: E402
from services.hub.store import append_event, keep_text, open_store, saw_agency  # noqa: E402

FIXTURE = DEMO_CSV.with_name("france_fixture.csv")
POST = "hub-bench-campaign"
REPEAT = 30
# Budgets in bytes, for the France registry (233 agencies): the counts, not the pages.
BUDGETS = {"posts": 20_000, "campaign": 120_000, "agency_pages": 120_000, "agencies": 120_000}


def timed(render: Callable[[], str]) -> tuple[int, float, float]:
    """(bytes, p50 ms, p95 ms) of `render` over REPEAT runs."""
    times, size = [], 0
    for _ in range(REPEAT):
        start = time.perf_counter()
        size = len(render().encode())
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return size, statistics.median(times), times[int(len(times) * 0.95) - 1]


def main() -> int:
    rows = parse_pages_csv(FIXTURE.read_text(encoding="utf-8"))
    regions = {row.agency: row.region for row in rows}
    registry = {
        row.agency: {
            "name": row.agency_name,
            "city": row.city,
            "region": row.region,
            "region_name": row.region_name,
        }
        for row in rows
    }
    scope = Scope(allows=lambda agency: True, region_of=regions.get, regional=False)
    with tempfile.TemporaryDirectory() as tmp:
        db = open_store(Path(tmp) / "hub.db")
        now = datetime.now(UTC)
        events = [("received", None, None, None), ("targeted", None, None, None)]
        events += [("delivery.published", row.network, row.page, row.agency) for row in rows]
        pages = [[row.network, row.page, row.agency] for row in rows]
        for n, (event, network, page, agency) in enumerate(events):
            append_event(
                db,
                source=f"bench:{n}",
                occurred_at=now.isoformat(),
                post_id=POST,
                agency=agency or "hub",
                event=event,
                actor="bench",
                network=network,
                page=page,
                detail={"pages": pages} if event == "targeted" else {},
            )
        keep_text(db, POST, "Forum national de l’emploi : 3 000 offres le 12 décembre #emploi")
        refresh_post_state(db, POST)
        for i, agency in enumerate(sorted(registry)):  # every other agency heard from just now
            seen = now if i % 2 else now - timedelta(hours=1)
            saw_agency(db, agency, seen.isoformat())
        one = sorted(registry)[0]
        figures = {
            "posts": timed(lambda: posts_section("fr", recent_posts(db, scope))),
            "campaign": timed(lambda: campaign_section("fr", campaign(db, scope, POST) or {}, registry)),
            "agency_pages": timed(
                lambda: campaign_section("fr", campaign(db, scope, POST, one) or {}, registry)
            ),
            "agencies": timed(
                lambda: agencies_section("fr", agency_groups(db, scope, now, registry), "", "", False)
            ),
        }
        db.close()
    summary = " ".join(
        f"{name}_bytes={size} {name}_p50_ms={p50:.1f} {name}_p95_ms={p95:.1f}"
        for name, (size, p50, p95) in figures.items()
    )
    print(
        f"dashboard_campaign pages={len(rows)} agencies={len(registry)} regions={len(set(regions.values()))} "
        + summary,
        flush=True,
    )
    over = [name for name, (size, _, _) in figures.items() if size > BUDGETS[name]]
    if over:
        print(f"dashboard_campaign over budget: {', '.join(over)} (budgets {BUDGETS})", file=sys.stderr)
    return 1 if over else 0


if __name__ == "__main__":
    raise SystemExit(main())
