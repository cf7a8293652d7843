"""The agency node's gauges, read from its outbox at each scrape (shared/metrics.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import sqlite_utils
from prometheus_client.core import GaugeMetricFamily, Metric

from shared.metrics import age_seconds


def outbox_metrics(db: sqlite_utils.Database, agency: str) -> Iterator[Metric]:
    count, oldest = db.execute(
        "select count(*), min(created_at) from posts where relayed_at is null and status != 'expired'"
    ).fetchone()
    backlog = GaugeMetricFamily(
        "relais_outbox_backlog", "Posts accepted here and not yet relayed to the hub", labels=["agency"]
    )
    backlog.add_metric([agency], count)
    yield backlog
    age = GaugeMetricFamily(
        "relais_outbox_oldest_age_seconds",
        "How long the oldest post not yet relayed has waited (0 when none)",
        labels=["agency"],
    )
    age.add_metric([agency], age_seconds(oldest, time.time()))
    yield age
