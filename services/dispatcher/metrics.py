"""The dispatcher's gauges, read from its ledger at each scrape (shared/metrics.py): deliveries by
network and current status, pages' states, pages waiting on a rate limit."""

from __future__ import annotations

from collections.abc import Iterator

import sqlite_utils
from prometheus_client.core import GaugeMetricFamily, Metric


def ledger_metrics(db: sqlite_utils.Database) -> Iterator[Metric]:
    deliveries = GaugeMetricFamily(
        "relais_deliveries_current",
        "Deliveries in the dispatcher's ledger by network and current status (throttled included)",
        labels=["network", "status"],
    )
    rows = db.execute("select network, status, count(*) from deliveries group by network, status").fetchall()
    for network, status, count in rows:
        deliveries.add_metric([network, status], count)
    yield deliveries
    pages = GaugeMetricFamily(
        "relais_pages_state",
        "Pages the dispatcher holds in a state other than active (needs_reauth), by network",
        labels=["network", "status"],
    )
    for network, status, count in db.execute(
        "select network, status, count(*) from page_states group by network, status"
    ).fetchall():
        pages.add_metric([network, status], count)
    yield pages
    throttled = GaugeMetricFamily(
        "relais_pages_throttled",
        "Pages with a delivery waiting on the network's rate limit now, by network",
        labels=["network"],
    )
    for network, count in db.execute(
        "select network, count(distinct page) from deliveries where status = 'throttled' group by network"
    ).fetchall():
        throttled.add_metric([network], count)
    yield throttled
