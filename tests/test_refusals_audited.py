"""Every refusal is audited (finding 7), and a flood cannot fill the audit.

Reproduces the review: of 3 × 401 and 4 × 403 sent to the hub and to an agency node, only one
intake 403 reached `permission.denied`. Here each kind of refusal, at the hub (recorded directly)
and at lyon-part-dieu's node (through its outbox, `security.<agency>.*`), must be in the hub's
audit with its route, method, status, token id and address, never the token itself; then a flood
from one address is recorded up to the budget (30 per address per minute, shared/access.py), the
cap being hit is recorded once, and another address is still heard.
"""

from __future__ import annotations

import json
import time
from http.client import HTTPConnection
from typing import Any

from shared.access import RefusalBudget
from shared.tokens import issue_token
from tests.harness import RelaisSystem, eventually, http

LYON, RENNES = "lyon-part-dieu", "rennes-sud"
DEAD_LETTER_ACTION = "/v1/dead-letters/{post_id}/{page}/{action}"
BUDGET = 30  # refusals recorded per address per window (shared/access.py RefusalBudget)
INTAKE_ROUTES = ("/v1/posts", "/v1/preview", "/v1/posts/{post_id}")  # none of them is probed at the hub


def send(port: int, method: str, path: str, token: str | None = None, source: str = "127.0.0.1") -> int:
    headers = {"Accept": "application/json", "Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    connection = HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    try:
        connection.request(method, path, body=b"{}" if method != "GET" else None, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def denials(relais: RelaisSystem, event: str = "permission.denied") -> list[dict[str, Any]]:
    status, body = http("GET", f"{relais.hub_url}/v1/audit?event={event}", token=relais.token("admin"))
    assert status == 200, body
    return list(body["events"])


def test_every_refusal_is_audited_and_a_flood_is_capped(relais: RelaisSystem) -> None:
    key = relais.key
    expired = issue_token(key, role="admin", subject="old-admin", ttl_seconds=60, now=time.time() - 3600)
    advisor = issue_token(key, role="advisor", subject="claire", agency=LYON)
    intruder = issue_token(key, role="advisor", subject="yann", agency=RENNES)
    ops = issue_token(key, role="ops", subject="olga")
    national = issue_token(key, role="moderator", subject="nadia")
    tokens = {"expired": expired, "advisor": advisor, "intruder": intruder, "ops": ops, "national": national}
    hub, intake = relais.ports.hub, relais.ports.intake_for(relais.agencies.index(LYON))

    # (port, method, path, token) → (status, route, subject) the audit must show
    hub_cases = [
        ((hub, "GET", "/v1/agencies", None), (401, "/v1/agencies", "anonymous")),
        ((hub, "GET", "/v1/agencies", "not-a-token"), (401, "/v1/agencies", "anonymous")),
        ((hub, "GET", "/v1/schedule", expired), (401, "/v1/schedule", "anonymous")),
        ((hub, "GET", "/v1/agencies", advisor), (403, "/v1/agencies", "claire")),
        ((hub, "PUT", "/v1/policies", ops), (403, "/v1/policies", "olga")),
        ((hub, "GET", "/v1/audit?event=login.failed", national), (403, "/v1/audit", "nadia")),
        ((hub, "POST", "/v1/dead-letters/p/q/retry", ops), (403, DEAD_LETTER_ACTION, "olga")),
    ]
    intake_cases = [
        ((intake, "GET", "/v1/posts", None), (401, "/v1/posts", "anonymous")),
        ((intake, "POST", "/v1/preview", "not-a-token"), (401, "/v1/preview", "anonymous")),
        ((intake, "GET", "/v1/posts", expired), (401, "/v1/posts", "anonymous")),
        ((intake, "POST", "/v1/posts", intruder), (403, "/v1/posts", "yann")),
        ((intake, "GET", f"/v1/posts/{LYON}-01X", intruder), (403, "/v1/posts/{post_id}", "yann")),
        ((intake, "GET", "/v1/posts", national), (403, "/v1/posts", "nadia")),
        ((intake, "POST", "/v1/preview", ops), (403, "/v1/preview", "olga")),
    ]
    for (port, method, path, token), (status, _, _) in hub_cases + intake_cases:
        assert send(port, method, path, token) == status, (port, method, path)

    def seen(cases: list[Any], agency: str | None) -> list[tuple[int, str, str, str]]:
        wanted_routes = {route for _, (_, route, _) in cases}
        return sorted(
            (e["detail"]["status"], e["detail"]["route"], e["actor"], e["detail"]["method"])
            for e in denials(relais)
            if e["detail"].get("route") in wanted_routes
            and e["detail"].get("remote") == "127.0.0.1"
            and (agency is None or e["agency"] == agency)
        )

    expected_hub = sorted((s, route, who, m) for (_, m, _, _), (s, route, who) in hub_cases)
    expected_intake = sorted((s, route, who, m) for (_, m, _, _), (s, route, who) in intake_cases)
    assert seen(hub_cases, None) == expected_hub
    assert eventually(lambda: seen(intake_cases, LYON) == expected_intake and True)

    everything = json.dumps(denials(relais))
    assert not [name for name, token in tokens.items() if token in everything]  # ids, never tokens
    by_token_id = {e["detail"]["token_id"] for e in denials(relais) if e["actor"] in ("claire", "olga")}
    assert len(by_token_id) == 2 and "" not in by_token_id  # who exactly was refused
    expired_ids = {e["detail"]["token_id"] for e in denials(relais) if e["detail"]["route"] == "/v1/schedule"}
    assert len(expired_ids) == 1 and "" not in expired_ids  # the hub signed it: its id is known

    # A flood from one address: the budget, then one "capped" entry, then nothing more.
    for _ in range(60):
        assert send(hub, "GET", "/v1/schedule") == 401
        assert send(intake, "GET", "/v1/posts") == 401
    # Another address is still heard.
    assert send(hub, "GET", "/v1/agencies", source="127.0.0.2") == 401
    assert send(intake, "GET", "/v1/posts", source="127.0.0.2") == 401

    hub_entries = [
        e
        for e in denials(relais)
        if e["detail"].get("remote") == "127.0.0.1" and e["detail"]["route"] not in INTAKE_ROUTES
    ]
    assert len(hub_entries) == BUDGET
    assert len([e for e in denials(relais, "permission.denied.capped") if e["agency"] == ""]) == 1

    def intake_entries() -> tuple[int, int]:
        recorded = [
            e
            for e in denials(relais)
            if e["agency"] == LYON
            and e["detail"]["remote"] == "127.0.0.1"
            and e["detail"]["route"] in INTAKE_ROUTES
        ]
        capped = [e for e in denials(relais, "permission.denied.capped") if e["agency"] == LYON]
        return len(recorded), len(capped)

    eventually(lambda: intake_entries() == (BUDGET, 1))

    def heard_from_elsewhere() -> set[str]:
        return {e["agency"] for e in denials(relais) if e["detail"].get("remote") == "127.0.0.2"}

    eventually(lambda: heard_from_elsewhere() == {"", LYON})
    time.sleep(1)  # nothing more arrives later: the rest of the flood was dropped
    assert intake_entries() == (BUDGET, 1)


def test_the_budget_is_per_address_and_per_window() -> None:
    budget = RefusalBudget(per_window=3, window_seconds=60, max_addresses=2, total_per_window=100)
    assert [budget.admit("10.0.0.1", now=0) for _ in range(5)] == ["record"] * 3 + ["cap", "drop"]
    assert budget.admit("10.0.0.2", now=1) == "record"  # another address has its own budget
    assert budget.admit("10.0.0.1", now=61) == "record"  # a new window starts afresh
    # An expired address makes room for a newcomer (10.0.0.2's window ended); past `max_addresses`
    # live addresses, the next newcomers share one budget, so memory stays bounded.
    assert budget.admit("10.1.0.0", now=62) == "record"
    assert [budget.admit(f"10.1.0.{i}", now=62) for i in range(1, 6)] == ["record"] * 3 + ["cap", "drop"]


def test_the_budget_bounds_a_flood_from_many_addresses() -> None:
    budget = RefusalBudget(per_window=3, window_seconds=60, total_per_window=10)
    verdicts = [budget.admit(f"10.2.{i}.1", now=0) for i in range(12)]
    assert verdicts == ["record"] * 10 + ["cap", "drop"]
    assert budget.admit("10.3.0.1", now=60) == "record"  # the next window is heard again
