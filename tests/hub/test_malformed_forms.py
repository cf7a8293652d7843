"""A form body the hub cannot parse is a JSON 400, never a 500: the sign-in form (public) and every
dashboard form (signed in). Found by the schema-driven fuzzer on the intake's upload; the same
parsing (`request.post()`) serves the hub's forms."""

from __future__ import annotations

import pytest
import sqlite_utils
from aiohttp import web
from aiohttp.test_utils import TestClient

from services.hub.accounts import create_user
from tests.hub.dashboard_client import PASSWORD
from tests.hub.test_dashboard_auth import hub, login  # noqa: F401  (hub: the fixture, reused)

Client = TestClient[web.Request, web.Application]

MALFORMED = [
    ("multipart/form-data; boundary=b0", b"--b0\r\n259--b0--\r\n"),  # a part header that is not one
    ("multipart/form-data", b"--b0\r\n\r\n--b0--\r\n"),  # no boundary
    ("application/x-www-form-urlencoded", b"\xff\xfe=%"),  # not UTF-8
]
IDS = ["not-a-header", "no-boundary", "not-utf8"]


@pytest.mark.parametrize(("content_type", "body"), MALFORMED, ids=IDS)
async def test_a_malformed_sign_in_form_is_a_json_400(
    hub: tuple[Client, sqlite_utils.Database],  # noqa: F811
    content_type: str,
    body: bytes,
) -> None:
    client, _ = hub
    response = await client.post("/login", data=body, headers={"Content-Type": content_type})
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "invalid_body"


@pytest.mark.parametrize(("content_type", "body"), MALFORMED, ids=IDS)
async def test_a_malformed_dashboard_form_is_a_json_400(
    hub: tuple[Client, sqlite_utils.Database],  # noqa: F811
    content_type: str,
    body: bytes,
) -> None:
    client, db = hub
    create_user(db, "ana", "admin", None, PASSWORD)
    assert (await login(client, "ana")).status == 303
    for path in ("/logout", "/dashboard/queue/lyon-part-dieu-1/reject", "/dashboard/dead-letters/p/q/retry"):
        response = await client.post(path, data=body, headers={"Content-Type": content_type})
        assert response.status == 400, path
        assert (await response.json())["error"]["code"] == "invalid_body", path
