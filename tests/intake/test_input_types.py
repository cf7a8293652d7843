"""A field of the wrong JSON type is `invalid_type`; only an absent (or null) or empty one is
`missing_field`. The two ask the client for different fixes, so the policy is written out here by
hand, for every field the shared checks read, and checked at the agency's endpoint."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from shared.post_input import InputError, check_media_choices, check_networks, check_selectors, check_text
from tests.intake.test_api import auth, stored_posts

BASE: dict[str, Any] = {"text": "Bonjour", "networks": ["x"]}

# (field changed in BASE, its value or None to leave it out, expected code, expected error field)
POLICY: list[tuple[str, Any, str, str]] = [
    ("text", 123, "invalid_type", "text"),
    ("text", True, "invalid_type", "text"),
    ("text", ["Bonjour"], "invalid_type", "text"),
    ("text", {"fr": "Bonjour"}, "invalid_type", "text"),
    ("text", None, "missing_field", "text"),
    ("text", "", "missing_field", "text"),
    ("networks", "x", "invalid_type", "networks"),
    ("networks", 7, "invalid_type", "networks"),
    ("networks", {"x": True}, "invalid_type", "networks"),
    ("networks", ["x", 3], "invalid_type", "networks[1]"),
    ("networks", [None], "invalid_type", "networks[0]"),
    ("networks", None, "missing_field", "networks"),
    ("networks", [], "missing_field", "networks"),
    ("selectors", "agency:lyon-part-dieu", "invalid_type", "selectors"),
    ("selectors", [42], "invalid_type", "selectors[0]"),
    ("media", [{"id": 5, "alt": "CV"}], "invalid_type", "media[0].id"),
    ("media", [{"alt": "CV"}], "missing_field", "media[0].id"),
]


def _body(field: str, value: Any) -> dict[str, Any]:
    body = dict(BASE)
    if value is None:
        body.pop(field, None)
    else:
        body[field] = value
    return body


@pytest.mark.parametrize(("field", "value", "code", "where"), POLICY)
async def test_the_intake_tells_a_wrong_type_from_a_missing_field(
    client: TestClient[Any, Any], tokens: dict[str, str], field: str, value: Any, code: str, where: str
) -> None:
    response = await client.post("/v1/posts", json=_body(field, value), headers=auth(tokens["advisor"]))

    assert response.status == 400
    assert (await response.json())["error"]["code"] == code
    assert (await response.json())["error"]["field"] == where
    assert stored_posts(client) == 0


@pytest.mark.parametrize(
    ("check", "value", "code"),
    [
        (check_text, 123, "invalid_type"),
        (check_networks, "x", "invalid_type"),
        (check_selectors, "region:bretagne", "invalid_type"),
        (check_selectors, None, "missing_field"),  # a campaign must say where it goes
        (lambda value: check_media_choices(value, require_alt=True), [{"id": 1.5}], "invalid_type"),
    ],
)
def test_the_shared_checks_used_by_the_hub_follow_the_same_policy(check: Any, value: Any, code: str) -> None:
    with pytest.raises(InputError) as refused:
        check(value)
    assert (refused.value.status, refused.value.code) == (400, code)
