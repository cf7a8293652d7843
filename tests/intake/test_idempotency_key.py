"""`Idempotency-Key` on `POST /v1/posts`: a client that resends after losing the answer (the node
was killed between storing and answering, the agency's network dropped) gets the post stored the
first time, never a second post.

The policy, written from the IETF draft "The Idempotency-Key HTTP Header Field":
- a key is the author's (the token's subject): another advisor's same key is another post;
- the same key with the same body answers 202 with the first post's id and `Idempotent-Replayed`;
- the same key with another body is refused (422 `idempotency_key_reused`), nothing stored;
- a key that is not 1–255 visible ASCII characters is refused (400 `invalid_idempotency_key`);
- a request refused for its content consumes no key; a key outlives a restart of the node.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestClient

from services.intake.keys import DATABASE
from shared.tokens import issue_token, load_or_create_private_key
from tests.intake.conftest import AGENCY, NodeFactory, auth, stored_posts

Client = TestClient[Any, Any]
POST = {"text": "Forum de l'alternance jeudi #emploi", "networks": ["x", "bluesky"]}


def keyed(token: str, key: str) -> dict[str, str]:
    return {**auth(token), "Idempotency-Key": key}


async def send(
    client: Client, token: str, key: str, body: Any = POST
) -> tuple[int, dict[str, Any], str | None]:
    response = await client.post("/v1/posts", json=body, headers=keyed(token, key))
    return response.status, dict(await response.json()), response.headers.get("Idempotent-Replayed")


async def test_a_resend_with_the_same_key_and_body_returns_the_first_post(
    client: Client, tokens: dict[str, str]
) -> None:
    first = await send(client, tokens["advisor"], "0b1c3e8e-5f2a-4d0e-9a57-1f0c2b7d9e41")
    again = await send(client, tokens["advisor"], "0b1c3e8e-5f2a-4d0e-9a57-1f0c2b7d9e41")

    assert first[0] == 202 and first[2] is None
    assert again == (202, first[1], "true")
    assert stored_posts(client) == 1


async def test_the_same_key_with_another_body_is_refused_and_stores_nothing(
    client: Client, tokens: dict[str, str]
) -> None:
    status, first, _ = await send(client, tokens["advisor"], "k-1")
    assert status == 202

    status, body, _ = await send(client, tokens["advisor"], "k-1", {**POST, "text": "Autre chose"})

    assert status == 422
    assert body["error"]["code"] == "idempotency_key_reused"
    assert body["error"]["field"] == "Idempotency-Key" and first["id"] in body["error"]["message"]
    assert stored_posts(client) == 1


async def test_a_key_is_its_authors_own(client: Client, tokens: dict[str, str], settings: Any) -> None:
    key = load_or_create_private_key(settings.data_dir / "keys" / "hub.pem")
    colleague = issue_token(key, role="advisor", subject="yasmine", agency=AGENCY)

    mine = await send(client, tokens["advisor"], "weekly-plan-monday")
    theirs = await send(client, colleague, "weekly-plan-monday")

    assert mine[0] == theirs[0] == 202 and mine[1]["id"] != theirs[1]["id"] and theirs[2] is None
    assert stored_posts(client) == 2


async def test_a_malformed_key_is_refused_where_it_is(client: Client, tokens: dict[str, str]) -> None:
    for key in ("", "clé-é", "a b", "x" * 256, "tab\there"):
        response = await client.post("/v1/posts", json=POST, headers=keyed(tokens["advisor"], key))
        body = await response.json()
        assert response.status == 400, key
        assert body["error"] == {
            "code": "invalid_idempotency_key",
            "message": body["error"]["message"],
            "field": "Idempotency-Key",
        }
    assert stored_posts(client) == 0


async def test_a_refused_post_consumes_no_key(client: Client, tokens: dict[str, str]) -> None:
    status, body, _ = await send(client, tokens["advisor"], "k-2", {**POST, "networks": ["nowhere"]})
    assert status == 422, body

    status, body, replayed = await send(client, tokens["advisor"], "k-2")

    assert (status, replayed) == (202, None)
    assert stored_posts(client) == 1


async def test_concurrent_resends_store_one_post(client: Client, tokens: dict[str, str]) -> None:
    answers = await asyncio.gather(*(send(client, tokens["advisor"], "burst") for _ in range(12)))

    assert {status for status, _, _ in answers} == {202}
    assert len({body["id"] for _, body, _ in answers}) == 1
    assert sum(replayed == "true" for _, _, replayed in answers) == 11
    assert stored_posts(client) == 1


async def test_a_key_outlives_a_restart_of_the_node(make_node: NodeFactory, tokens: dict[str, str]) -> None:
    before = await make_node()
    status, first, _ = await send(before, tokens["advisor"], "k-3")
    assert status == 202
    await before.close()

    after = await make_node()  # the same data directory: the outbox as the killed node left it
    status, again, replayed = await send(after, tokens["advisor"], "k-3")

    assert (status, again["id"], replayed) == (202, first["id"], "true")
    assert after.app[DATABASE].execute("select count(*) from posts").fetchone()[0] == 1
