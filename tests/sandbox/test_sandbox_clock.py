"""The sandbox's scripted dates (services/sandbox/clock.py, services/sandbox/incoming.py): questions
dated in the past by the network (`at`), replies dated by `/_sandbox/clock/replies`; anything a network
could not date (the future, not a number, a count that does not match) is refused in words."""

from __future__ import annotations

from typing import Any

import pytest
from sandbox_kit import Sandbox

TOKEN = {"Authorization": "Bearer sbx-mastodon-lyon"}
JANUARY = 1_736_850_600.0  # 2025-01-14T10:30:00Z
MARCH = 1_741_860_123.456  # 2025-03-13T10:02:03.456Z


async def _ask(sandbox: Sandbox, **body: Any) -> Any:
    return await sandbox.post("/_sandbox/incoming", json={"network": "mastodon", "account": "lyon", **body})


async def test_questions_and_replies_carry_the_dates_given(sandbox: Sandbox) -> None:
    asked = await _ask(sandbox, count=2, at=[JANUARY, MARCH - 60])
    assert asked.status == 201
    first, second = (await asked.json())["items"]
    notified = await (await sandbox.get("/api/v1/notifications", headers=TOKEN)).json()
    dates = {n["status"]["id"]: n["status"]["created_at"] for n in notified}
    assert dates == {
        first["item_id"]: "2025-01-14T10:30:00.000Z",
        second["item_id"]: "2025-03-13T10:01:03.456Z",
    }

    dated = await sandbox.post(
        "/_sandbox/clock/replies", json={"network": "mastodon", "dates": {second["item_id"]: MARCH}}
    )
    assert dated.status == 200 and await dated.json() == {"dated": 1}
    answers = {}
    for item in (first, second):
        reply = await sandbox.post(
            "/api/v1/statuses", headers=TOKEN, json={"status": "Bonjour", "in_reply_to_id": item["item_id"]}
        )
        assert reply.status == 200
        answers[item["item_id"]] = (await reply.json())["created_at"]
    assert answers[second["item_id"]] == "2025-03-13T10:02:03.456Z"
    assert answers[first["item_id"]] > "2026"  # not dated: the real time


@pytest.mark.parametrize(
    "at",
    [[JANUARY], [JANUARY, 4_102_444_800.0], [JANUARY, True], [JANUARY, "2025-01-14"], JANUARY, [JANUARY, -1]],
)
async def test_question_dates_a_network_could_not_give_are_refused(sandbox: Sandbox, at: Any) -> None:
    response = await _ask(sandbox, count=2, at=at)
    assert response.status == 400
    assert "at must be" in (await response.json())["error"]


@pytest.mark.parametrize(
    "body",
    [
        {"network": "bluesky", "dates": {"1": JANUARY}},  # its emulator takes no dates
        {"network": "mastodon", "dates": {}},
        {"network": "mastodon", "dates": [JANUARY]},
        {"network": "mastodon", "dates": {"1": 4_102_444_800.0}},  # 2100
        {"network": "mastodon", "dates": {"1": "yesterday"}},
        {"network": "mastodon", "dates": {"1": float("nan")}},
        {"network": "mastodon", "dates": {"": JANUARY}},
        ["mastodon"],
    ],
)
async def test_reply_dates_a_network_could_not_give_are_refused(sandbox: Sandbox, body: Any) -> None:
    response = await sandbox.post("/_sandbox/clock/replies", json=body)
    assert response.status == 400
    assert (await response.json())["error"]
