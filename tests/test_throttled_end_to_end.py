"""A network's rate limit is visible end to end: with X's sandbox answering "429 with a reset", the
real dispatcher marks the delivery `throttled` with its reset time; the agency's API, the hub's API,
the dashboard (its sections and its live feed) show it; the hub is alerted once the page has waited
longer than the threshold (a small one here); then the post is published once, after the reset."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import datetime
from http.client import HTTPConnection, HTTPResponse
from typing import Any

import pytest

from tests.harness import RelaisSystem, eventually, http
from tests.hub.dashboard_client import DashboardSession, create_user

RESET_S = 15
TEXT = "Forum de l'emploi saisonnier samedi à Lyon Part-Dieu, 30 employeurs présents. #emploi"


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


class LiveFeed:
    """The dashboard's `GET /events`, read on a thread of its own: every `post` change it carried."""

    def __init__(self, port: int, cookie: str) -> None:
        self.changes: list[dict[str, Any]] = []
        self._connection = HTTPConnection("127.0.0.1", port, timeout=60)
        self._connection.request("GET", "/events", headers={"Cookie": f"relais_session={cookie}"})
        response = self._connection.getresponse()
        assert response.status == 200
        self._thread = threading.Thread(target=self._read, args=(response,), daemon=True)
        self._thread.start()

    def _read(self, response: HTTPResponse) -> None:
        try:
            for raw in response:
                line = raw.decode().strip()
                if line.startswith("data: "):
                    self.changes.append(json.loads(line.removeprefix("data: ")))
        except (OSError, ValueError, AttributeError):  # closed by the test: the feed ends
            return

    def close(self) -> None:
        self._connection.close()


@pytest.fixture
def throttled_relais(
    monkeypatch: pytest.MonkeyPatch, make_relais: Callable[..., RelaisSystem]
) -> RelaisSystem:
    monkeypatch.setenv("RELAIS_THROTTLE_ALERT_MINUTES", "0.05")  # 3 s: the page waits 15
    return make_relais()


def test_a_throttled_delivery_is_shown_everywhere_then_published_once_after_the_reset(
    throttled_relais: RelaisSystem,
) -> None:
    relais = throttled_relais
    assert create_user(relais.data_dir, "alain", "admin").returncode == 0
    dashboard = DashboardSession(relais.hub_url)
    assert dashboard.login("alain") == 303
    cookie = next(c.value for c in dashboard.jar if c.name == "relais_session")
    feed = LiveFeed(relais.ports.hub, cookie)
    try:
        status, body = http(
            "POST",
            f"{relais.sandbox_url}/_sandbox/faults",
            {"network": "x", "account": "*", "mode": "rate_limit", "seconds": RESET_S},
        )
        assert status == 201, body
        status, accepted = relais.post({"text": TEXT, "networks": ["x"]})
        assert status == 202, accepted
        post_id = accepted["id"]

        def agency_throttled() -> dict[str, Any] | None:
            [delivery] = relais.get_post(post_id)["deliveries"]
            return delivery if delivery["status"] == "throttled" else None

        delivery = eventually(agency_throttled, timeout=RESET_S)
        until = delivery["throttled_until"]
        assert until and time.time() < epoch(until) <= time.time() + RESET_S + 1
        assert "rate limit" in delivery["error"]["message"] and delivery["remote_id"] is None
        page = delivery["page"]

        # The hub's API: the post's delivery, the open alert, the audit.
        def hub_throttled() -> dict[str, Any] | None:
            found = relais.hub_post(post_id)
            return found if found and [d["status"] for d in found["deliveries"]] == ["throttled"] else None

        hub_post = eventually(hub_throttled)
        [hub_delivery] = hub_post["deliveries"]
        assert (hub_delivery["status"], hub_delivery["throttled_until"]) == ("throttled", until)
        assert hub_post["status"] == "publishing"

        def open_alert() -> dict[str, Any] | None:
            status, lists = http("GET", f"{relais.hub_url}/v1/dead-letters", token=relais.token("admin"))
            assert status == 200, lists
            return next((p for p in lists["pages_throttled"] if p["page"] == page), None)

        alert = eventually(open_alert)
        assert (alert["network"], alert["until"]) == ("x", until)
        events = eventually(
            lambda: (
                (e := relais.audit(post_id))
                and {"page.throttled", "delivery.throttled"} <= {x["event"] for x in e}
                and e
            )
        )
        [told] = [e for e in events if e["event"] == "delivery.throttled"]
        assert told["detail"]["throttled_until"] == until and told["page"] == page

        # The dashboard: its sections and its live feed.
        def section(name: str, *wanted: str) -> str | None:
            _, html, _ = dashboard.request("GET", f"/dashboard/sections/{name}")
            return html if all(w in html for w in wanted) else None

        throttled = 'data-status="throttled">Limitée par le réseau</span> jusqu’à <time'
        eventually(lambda: section("posts", f"x:{page} <span", throttled, f'datetime="{until}"'))
        eventually(lambda: section("throttled", page, f'datetime="{until}"'))
        eventually(lambda: section("stats", ">Limitée par le réseau<"))
        live = eventually(
            lambda: [
                d
                for c in feed.changes
                if c["post_id"] == post_id
                for d in c["deliveries"]
                if d["status"] == "throttled"
            ]
        )
        assert live[0]["throttled_until"] == until

        # After the reset: published once, and nothing is throttled any more.
        published = relais.wait_status(post_id, ("published",), timeout=RESET_S + 30)
        [delivery] = published["deliveries"]
        assert delivery["status"] == "published" and delivery["throttled_until"] is None
        assert [p["text"] for p in relais.sandbox_posts() if p["network"] == "x"] == [TEXT]
        assert eventually(lambda: open_alert() is None)
        [hub_delivery] = eventually(
            lambda: (p := relais.hub_post(post_id)) and p["status"] == "published" and p
        )["deliveries"]
        assert hub_delivery["throttled_until"] is None
    finally:
        feed.close()
