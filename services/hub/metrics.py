"""The hub's gauges, read from its database at each scrape (shared/metrics.py): the moderation
queue, each agency's last contact and outbox backlog, and the alerts open (dead letters, pages to
reconnect, pages throttled longer than the threshold)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import sqlite_utils
from prometheus_client.core import GaugeMetricFamily, Metric

from shared.metrics import age_seconds, timestamp


def hub_metrics(db: sqlite_utils.Database) -> Iterator[Metric]:
    now = time.time()
    size, oldest = db.execute("select count(*), min(queued_at) from queue").fetchone()
    yield GaugeMetricFamily("relais_moderation_queue_size", "Posts waiting for a moderator", value=size)
    yield GaugeMetricFamily(
        "relais_moderation_queue_oldest_age_seconds",
        "How long the oldest post of the moderation queue has waited (0 when it is empty)",
        value=age_seconds(oldest, now),
    )
    last_contact = GaugeMetricFamily(
        "relais_agency_last_contact_timestamp_seconds",
        "When the hub last heard from each agency node (heartbeat or relayed post), Unix time",
        labels=["agency"],
    )
    backlog = GaugeMetricFamily(
        "relais_agency_outbox_backlog",
        "Posts each agency node said it still had to relay, at its last heartbeat",
        labels=["agency"],
    )
    for agency, last_seen, pending in db.execute(
        "select agency, last_seen, outbox_pending from agencies"
    ).fetchall():
        seen = timestamp(last_seen)
        if seen is not None:
            last_contact.add_metric([agency], seen)
        backlog.add_metric([agency], pending or 0)
    yield last_contact
    yield backlog
    for name, help_text, table, where in (
        (
            "relais_dead_letters_open",
            "Deliveries given up on, waiting for a person",
            "dead_letters",
            "resolved_at is null",
        ),
        ("relais_pages_needs_reauth", "Pages to reconnect (expired or revoked token)", "page_alerts", "1"),
        (
            "relais_pages_throttled_alerted",
            "Pages throttled longer than the alert threshold",
            "page_throttles",
            "1",
        ),
    ):
        counted = db.execute(f"select count(*) from {table} where {where}").fetchone()[0]
        yield GaugeMetricFamily(name, help_text, value=counted)
    throttled_for = GaugeMetricFamily(
        "relais_page_throttled_oldest_age_seconds",
        "How long the longest-throttled alerted page has waited on its network (0 when none)",
        value=age_seconds(db.execute("select min(since) from page_throttles").fetchone()[0], now),
    )
    yield throttled_for
