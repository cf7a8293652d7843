"""The network's date of a publication reaches the bus (`DeliveryUpdated.published_at`, UTC ISO to the
millisecond, as the messages carry times) for `published` only; none where the network said none."""

from __future__ import annotations

import msgspec

from services.dispatcher.adapters.base import Publication
from services.dispatcher.attempt import published
from services.dispatcher.outbox import delivery_update
from services.dispatcher.store import DeliveryRow
from shared.schemas import DeliveryUpdated

MARCH = 1_741_860_123.456  # 2025-03-13T10:02:03.456Z


def _row() -> DeliveryRow:
    return DeliveryRow(
        key="post-1.mastodon.page-m",
        post_id="post-1",
        agency="lyon",
        network="mastodon",
        page="page-m",
        status="publishing",
        attempts=1,
        failures=0,
        parts=["Bonjour"],
        link=None,
        remote_id=None,
        url=None,
        part_ids=[],
        error=None,
        due_at=None,
        sent_at=1.0,
        first_sent_at=1.0,
        maybe_sent=False,
        dead=False,
        version=1,
    )


def _announced(status: str, published_at: float | None) -> DeliveryUpdated:
    _, _, data = delivery_update(_row(), status, remote_id="115", url="u/115", published_at=published_at)
    return msgspec.json.decode(data, type=DeliveryUpdated)


def test_the_networks_date_is_announced_with_the_publication() -> None:
    outcome = published(Publication("115", "u/115", ("115",), MARCH))
    assert outcome.published_at == MARCH
    assert _announced("published", outcome.published_at).published_at == "2025-03-13T10:02:03.456Z"


def test_no_date_where_the_network_gave_none_or_nothing_was_published() -> None:
    assert published(Publication("115", "u/115", ("115",))).published_at is None
    assert _announced("published", None).published_at is None
    assert _announced("failed", MARCH).published_at is None
