"""The agency's follower applies the hub's news whatever order its consumers deliver it in."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.intake.follower import apply_event
from services.intake.store import get_post, open_store
from shared import bus
from shared.schemas import DeliveryUpdated, PostAnnounced, Target, encode

AGENCY, POST = "rennes-sud", "hub-01CAMPAIGN"


def test_a_result_that_outruns_its_campaigns_announcement_waits_for_it(tmp_path: Path) -> None:
    db = open_store(tmp_path / "intake.db")
    published = DeliveryUpdated(
        post_id=POST,
        agency=AGENCY,
        occurred_at="2026-11-22T09:00:01Z",
        network="x",
        page="rennes-sud-x",
        status="published",
        remote_id="1850",
        url="https://x.com/ft/status/1850",
    )
    subject = f"deliveries.{AGENCY}.{POST}.published"
    with pytest.raises(bus.Retry):  # acked now, the result would be lost for good
        apply_event(db, subject, encode(published))

    announced = PostAnnounced(
        post_id=POST,
        agency=AGENCY,
        occurred_at="2026-11-22T09:00:00Z",
        origin_agency="hub",
        author="admin",
        text="Forum de l'emploi à Rennes #emploi",
        targets=[Target("x", "rennes-sud-x")],
    )
    apply_event(db, f"decisions.{AGENCY}.{POST}.announced", encode(announced))
    apply_event(db, subject, encode(published))  # the redelivery
    post = get_post(db, POST)
    assert post is not None and post["status"] == "published"
    assert post["deliveries"][0]["remote_id"] == "1850"
