"""The composer's drafts at the agency node, in process (real SQLite file, real HTTP, advisors'
real sessions): each draft is its author's alone, the limits hold, bad bodies are JSON errors, and
drafts outlive a restart of the node. The policy, written down by hand (contract of issue 14):

- a draft's owner is the caller's role, agency and name together (an advisor's session and an
  advisor's token of the same name at this agency are the same person);
- by its id, a draft is found by its owner only: anyone else (another advisor of the agency, an
  admin, another agency's advisor, any other role) gets 404, as for an id that does not exist;
- listing and saving are for this agency's advisors and for admins (their own drafts), like every
  intake route: another agency's advisor or another role is refused, 403;
- a draft's body is a JSON object of a post's fields, not checked as a post, at most 65,536 bytes
  (413 `draft_too_large`; 422 `invalid_draft` for another shape); 200 drafts each (409
  `too_many_drafts`); every state-changing request on a session carries its CSRF token (403).
"""

from __future__ import annotations

import io
import json
import secrets
from pathlib import Path
from typing import Any

import pytest

from services.intake.keys import DATABASE, SETTINGS
from shared.accounts import AdvisorAccount, hash_password, open_session, store_advisor
from shared.i18n import ERROR_CODES, LOCALES, words
from shared.tokens import issue_token, load_or_create_private_key
from tests.harness import RelaisSystem, http
from tests.intake.conftest import AGENCY, Client, NodeFactory, auth

Headers = dict[str, str]
POST_BODY = {"text": "Atelier CV mardi 14 h #emploi", "networks": ["x", "bluesky"], "link": "https://ft.fr"}
_HASH = hash_password("a long enough password")  # argon2 is slow: one hash for every test account


def session(client: Client, username: str, agency: str = AGENCY) -> Headers:
    """A signed-in advisor's browser headers: the session cookie and its CSRF token."""
    db = client.app[DATABASE]
    store_advisor(db, AdvisorAccount(username, "advisor", agency, _HASH, False, 1))
    opened = open_session(db, username)
    return {"Cookie": f"relais_agency_session={opened.cookie}", "X-CSRF-Token": opened.csrf}


def token(client: Client, role: str, subject: str, agency: str | None = None) -> Headers:
    key = load_or_create_private_key(client.app[SETTINGS].data_dir / "keys" / "hub.pem")
    return auth(issue_token(key, role=role, subject=subject, agency=agency))


async def save(client: Client, headers: Headers, body: Any = POST_BODY) -> dict[str, Any]:
    response = await client.post("/v1/drafts", json={"body": body}, headers=headers)
    assert response.status == 201, await response.text()
    return dict(await response.json())


async def error_of(response: Any) -> tuple[int, str, str | None]:
    error = (await response.json())["error"]
    return response.status, error["code"], error["field"]


def stored_drafts(client: Client) -> int:
    return int(client.app[DATABASE].execute("select count(*) from drafts").fetchone()[0])


async def test_an_advisor_saves_lists_resumes_updates_and_deletes_a_draft(client: Client) -> None:
    claire = session(client, "claire")
    first = await save(client, claire)
    assert set(first) == {"id", "created_at", "updated_at", "body"} and first["body"] == POST_BODY
    incomplete = {"text": "", "media": [{"id": "not-uploaded-yet"}]}  # a draft is not checked as a post
    second = await save(client, claire, incomplete)
    assert (await save(client, claire, {}))["body"] == {}
    listed = (await (await client.get("/v1/drafts", headers=claire)).json())["drafts"]
    assert [d["body"] for d in listed] == [{}, incomplete, POST_BODY]  # the latest saved first

    changed = {**POST_BODY, "schedule_at": "2026-12-24T09:00Z"}
    response = await client.put(f"/v1/drafts/{first['id']}", json={"body": changed}, headers=claire)
    assert response.status == 200
    updated = await response.json()
    assert (updated["id"], updated["body"], updated["created_at"]) == (
        first["id"],
        changed,
        first["created_at"],
    )
    assert updated["updated_at"] >= first["updated_at"]
    listed = (await (await client.get("/v1/drafts", headers=claire)).json())["drafts"]
    assert listed[0]["id"] == first["id"], "an updated draft comes first"
    assert await (await client.get(f"/v1/drafts/{first['id']}", headers=claire)).json() == updated

    response = await client.delete(f"/v1/drafts/{second['id']}", headers=claire)
    assert (response.status, await response.read()) == (204, b"")
    assert await error_of(await client.get(f"/v1/drafts/{second['id']}", headers=claire)) == (
        404,
        "not_found",
        "draft_id",
    )
    assert (await client.delete(f"/v1/drafts/{second['id']}", headers=claire)).status == 404
    # The same advisor with a token of hers is the same person: her drafts, whichever credential.
    claire_token = token(client, "advisor", "claire", AGENCY)
    mine = (await (await client.get("/v1/drafts", headers=claire_token)).json())["drafts"]
    assert [d["id"] for d in mine] == [d["id"] for d in listed if d["id"] != second["id"]]


async def test_nobody_but_its_author_finds_a_draft(client: Client) -> None:
    claire = session(client, "claire")
    draft = await save(client, claire)
    path = f"/v1/drafts/{draft['id']}"
    # Same name, another role or agency: not her. Each gets the answer of an id that does not exist.
    others = {
        "colleague": session(client, "nadia"),
        "admin named claire": token(client, "admin", "claire"),
        "another agency's claire": token(client, "advisor", "claire", "rennes-sud"),
        "moderator named claire": token(client, "moderator", "claire", None),
        "ops": token(client, "ops", "claire"),
    }
    unknown = f"/v1/drafts/draft-{secrets.token_urlsafe(18)}"
    for who, headers in others.items():
        for method, body in (("GET", None), ("PUT", {"body": {"text": "pwned"}}), ("DELETE", None)):
            for probe in (path, unknown):
                response = await client.request(method, probe, json=body, headers=headers)
                assert await error_of(response) == (404, "not_found", "draft_id"), (who, method, probe)
    # Still hers, unchanged.
    assert (await (await client.get(path, headers=claire)).json())["body"] == POST_BODY
    # Listing shows each caller their own drafts only (none); another agency or role may not list.
    for who in ("colleague", "admin named claire"):
        listed = await client.get("/v1/drafts", headers=others[who])
        assert (listed.status, (await listed.json())["drafts"]) == (200, []), who
    for who, code in (("another agency's claire", "wrong_agency"), ("ops", "forbidden")):  # their token
        for method in ("GET", "POST"):
            body = {"body": POST_BODY} if method == "POST" else None
            response = await client.request(method, "/v1/drafts", json=body, headers=others[who])
            assert await error_of(response) == (403, code, "Authorization"), (who, method)
    # An admin's drafts are the admin's alone too.
    admin_draft = await save(client, others["admin named claire"], {"text": "note"})
    assert (await client.get(f"/v1/drafts/{admin_draft['id']}", headers=claire)).status == 404
    # Reaching for someone else's draft is recorded (the hub's audit gets it through the outbox).
    events = [json.loads(r[0]) for r in client.app[DATABASE].execute("select event from security_events")]
    refused = [e for e in events if e["path"] == path]
    assert refused and all(e["status"] == 404 for e in refused)
    assert {e["method"] for e in refused} == {"GET", "PUT", "DELETE"}


@pytest.mark.parametrize(
    "draft_id",
    ["1", "draft-1", "draft-" + "A" * 24, "%2e%2e", "..%2Fposts", "'%20or%201=1--", "x" * 2000, "%00"],
)
async def test_guessed_ids_are_not_found(client: Client, draft_id: str) -> None:
    claire = session(client, "claire")
    await save(client, claire)
    for method in ("GET", "PUT", "DELETE"):
        response = await client.request(
            method, f"/v1/drafts/{draft_id}", json={"body": {}} if method == "PUT" else None, headers=claire
        )
        assert response.status == 404, (method, draft_id)
        assert (await response.json())["error"]["code"] == "not_found"
    assert stored_drafts(client) == 1


@pytest.mark.parametrize(
    ("envelope", "status", "code", "field"),
    [
        ({"body": [1, 2]}, 422, "invalid_draft", "body"),
        ({"body": "Bonjour"}, 422, "invalid_draft", "body"),
        ({"body": 3}, 422, "invalid_draft", "body"),
        ({"body": {"text": "a", "evil": 1}}, 422, "invalid_draft", "body.evil"),
        ({"body": {"__proto__": {}}}, 422, "invalid_draft", "body.__proto__"),
        ({}, 400, "missing_field", "body"),
        ({"body": None}, 400, "invalid_type", "body"),
        ({"body": {}, "author": "nadia"}, 400, "unknown_field", "author"),
    ],
)
async def test_a_draft_that_is_not_an_object_of_post_fields_is_refused(
    client: Client, envelope: dict[str, Any], status: int, code: str, field: str
) -> None:
    claire = session(client, "claire")
    draft = await save(client, claire)
    response = await client.post("/v1/drafts", json=envelope, headers=claire)
    assert await error_of(response) == (status, code, field)
    response = await client.put(f"/v1/drafts/{draft['id']}", json=envelope, headers=claire)
    assert await error_of(response) == (status, code, field)
    assert stored_drafts(client) == 1
    assert (await (await client.get(f"/v1/drafts/{draft['id']}", headers=claire)).json())["body"] == POST_BODY


@pytest.mark.parametrize(
    ("data", "content_type", "code"),
    [
        (b"[1, 2]", "application/json", "invalid_body"),
        (b'{"body": {', "application/json", "invalid_json"),
        (b"body=1", "application/x-www-form-urlencoded", "invalid_body"),
        (b'{"body": "\xff"}', "application/json", "invalid_json"),
    ],
)
async def test_a_body_that_is_not_a_json_object_is_refused(
    client: Client, data: bytes, content_type: str, code: str
) -> None:
    claire = session(client, "claire")
    response = await client.post("/v1/drafts", data=data, headers={**claire, "Content-Type": content_type})
    assert (await error_of(response))[:2] == (400, code)
    assert stored_drafts(client) == 0


async def test_a_draft_is_at_most_64_kib(client: Client) -> None:
    claire = session(client, "claire")
    draft = await save(client, claire)
    frame = len(json.dumps({"text": ""}, separators=(",", ":")))
    room = 65_536 - frame
    at_limit = {"text": "é" * (room // 2) + "a" * (room % 2)}  # é is two bytes in UTF-8: 65,536 in all
    assert len(json.dumps(at_limit, ensure_ascii=False, separators=(",", ":")).encode()) == 65_536
    assert (await save(client, claire, at_limit))["body"] == at_limit
    over = {"text": at_limit["text"] + "a"}
    for method, path in (("POST", "/v1/drafts"), ("PUT", f"/v1/drafts/{draft['id']}")):
        response = await client.request(method, path, json={"body": over}, headers=claire)
        assert await error_of(response) == (413, "draft_too_large", "body"), method
        # Past the node's request limit (1 MiB), the body is not even read.
        huge = io.BytesIO(b'{"body": {"text": "' + b"a" * (1024 * 1024) + b'"}}')
        json_type = {**claire, "Content-Type": "application/json"}
        response = await client.request(method, path, data=huge, headers=json_type)
        assert (await error_of(response))[:2] == (413, "body_too_large"), method
    assert stored_drafts(client) == 2
    assert (await (await client.get(f"/v1/drafts/{draft['id']}", headers=claire)).json())["body"] == POST_BODY


async def test_at_most_200_drafts_each(client: Client) -> None:
    claire, nadia = session(client, "claire"), session(client, "nadia")
    ids = [(await save(client, claire, {"text": str(n)}))["id"] for n in range(200)]
    response = await client.post("/v1/drafts", json={"body": {"text": "one more"}}, headers=claire)
    assert await error_of(response) == (409, "too_many_drafts", None)
    assert stored_drafts(client) == 200
    await save(client, nadia)  # her colleague's limit is her own
    assert (await client.delete(f"/v1/drafts/{ids[0]}", headers=claire)).status == 204
    await save(client, claire, {"text": "room again"})
    listed = (await (await client.get("/v1/drafts", headers=claire)).json())["drafts"]
    assert len(listed) == 200 and listed[0]["body"] == {"text": "room again"}


async def test_a_session_must_send_its_csrf_token_to_change_drafts(client: Client) -> None:
    """A page elsewhere may make the browser send the cookie, never the token (403 `csrf`)."""
    claire = session(client, "claire")
    draft = await save(client, claire)
    path = f"/v1/drafts/{draft['id']}"
    cookie_only = {"Cookie": claire["Cookie"]}
    wrong = {**cookie_only, "X-CSRF-Token": "x" * 43}
    changes = (("POST", "/v1/drafts", {"body": {}}), ("PUT", path, {"body": {}}), ("DELETE", path, None))
    for headers in (cookie_only, wrong):
        for method, target, body in changes:
            response = await client.request(method, target, json=body, headers=headers)
            assert await error_of(response) == (403, "csrf", "X-CSRF-Token"), (method, headers)
    assert (await client.get(path, headers=cookie_only)).status == 200  # reading needs no token
    assert stored_drafts(client) == 1
    assert (await (await client.get(path, headers=claire)).json())["body"] == POST_BODY
    assert (await client.get("/v1/drafts")).status == 401


async def test_drafts_survive_a_restart_of_the_node(make_node: NodeFactory) -> None:
    """The node stops (its database closed) and starts again on the same SQLite file."""
    node = await make_node()
    claire = session(node, "claire")
    kept = await save(node, claire)
    gone = await save(node, claire, {"text": "brouillon jeté"})
    assert (await node.delete(f"/v1/drafts/{gone['id']}", headers=claire)).status == 204
    await node.close()

    restarted = await make_node()
    assert restarted.app is not node.app
    listed = (await (await restarted.get("/v1/drafts", headers=claire)).json())["drafts"]
    assert listed == [kept]
    response = await restarted.put(
        f"/v1/drafts/{kept['id']}", json={"body": {"text": "suite"}}, headers=claire
    )
    assert response.status == 200
    assert (await restarted.get(f"/v1/drafts/{gone['id']}", headers=claire)).status == 404


@pytest.mark.parametrize("locale", LOCALES)
def test_the_drafts_refusals_are_worded_for_people(locale: str) -> None:
    """The composer shows these codes translated (shared/i18n): each language has its words."""
    for code in ("draft_too_large", "invalid_draft", "too_many_drafts"):
        assert code in ERROR_CODES
        worded = words(locale).error(code)
        assert worded != code and worded.strip(), (locale, code)


def test_drafts_survive_a_killed_node_process(tmp_path: Path) -> None:
    """The node as its own process, killed (SIGKILL: only what is on disk survives) and started
    again on the same SQLite file; offline all along, as a node may well be."""
    system = RelaisSystem(tmp_path)
    node, url, advisor = f"intake-{system.agencies[0]}", system.intake_url(), system.token()
    try:
        system.start(node, alive_only=True)
        status, kept = http("POST", f"{url}/v1/drafts", {"body": POST_BODY}, token=advisor)
        assert status == 201, kept
        system.kill(node)
        system.start(node, alive_only=True)
        status, listed = http("GET", f"{url}/v1/drafts", token=advisor)
        assert (status, listed["drafts"]) == (200, [kept])
    finally:
        system.stop()
