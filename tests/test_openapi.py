"""The OpenAPI documents are the contract: generated from the code's types, they must describe every
route each app serves (and nothing else), mark exactly its public routes, give every refusal the one
error shape, and agree with the README's API tables. The types must take exactly the fields the
handlers take. (Whether the answers match the documents: tests/test_schemathesis.py.)
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from services.hub.api_types import AuditAnswer
from services.hub.campaigns import CAMPAIGN_FIELDS
from services.hub.keys import DATABASE
from services.hub.openapi import HUB_OPENAPI
from services.hub.store import append_event
from services.intake.api_types import NewPost
from services.intake.openapi import intake_openapi
from services.intake.validation import ALLOWED_FIELDS
from shared.access import PUBLIC_ROUTES
from shared.api_contract import ErrorBody, conform
from shared.ids import utc_now
from shared.post_api import CampaignRequest, PreviewRequest
from shared.post_input import PREVIEW_FIELDS, SCHEDULE_YEARS, InputError, check_tags, check_title
from shared.tokens import issue_token, load_or_create_private_key
from tests.service_apps import service_apps
from tests.test_docs import README

AGENCY = "lyon-part-dieu"
METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture
def apps(tmp_path: Path) -> Iterator[dict[str, tuple[web.Application, dict[str, Any]]]]:
    """Each service's app and the document it serves."""
    with service_apps(tmp_path, AGENCY) as built:
        yield {
            "hub": (built["hub"], HUB_OPENAPI),
            "intake": (built["intake"], intake_openapi(AGENCY, (f"{AGENCY}-x",), True)),
        }


def routes_of(app: web.Application) -> set[tuple[str, str]]:
    """(METHOD, path) of every route, as OpenAPI writes it (a static prefix serves `{filename}`)."""
    found = set()
    for route in app.router.routes():
        if route.method == "HEAD" or route.resource is None:
            continue
        path = route.resource.canonical
        if isinstance(route.resource, web.StaticResource):
            path += "/{filename}"
        found.add((route.method, path))
    return found


def operations_of(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if method in METHODS
    }


def undocumented(app: web.Application, document: dict[str, Any]) -> tuple[set[Any], set[Any]]:
    """(routes without an operation, operations without a route)."""
    routes, documented = routes_of(app), set(operations_of(document))
    return routes - documented, documented - routes


@pytest.mark.parametrize("service", ["hub", "intake"])
def test_every_route_has_an_operation_and_every_operation_a_route(
    apps: dict[str, tuple[web.Application, dict[str, Any]]], service: str
) -> None:
    app, document = apps[service]
    missing, extra = undocumented(app, document)
    assert missing == set(), f"{service}: routes the document does not describe"
    assert extra == set(), f"{service}: operations without a route"


def test_a_route_added_without_its_operation_is_caught(
    apps: dict[str, tuple[web.Application, dict[str, Any]]],
) -> None:
    """What the test above guards, both ways: one more route, or one operation less, is reported."""
    app, document = apps["hub"]

    async def added(request: web.Request) -> web.Response:
        return web.json_response({})

    app.router.add_get("/v1/added-later", added)
    assert undocumented(app, document) == ({("GET", "/v1/added-later")}, set())
    trimmed = {**document, "paths": {p: o for p, o in document["paths"].items() if p != "/v1/agencies"}}
    assert ("GET", "/v1/agencies") in undocumented(app, trimmed)[0]


@pytest.mark.parametrize("service", ["hub", "intake"])
def test_security_marks_public_routes_and_each_surfaces_credential(
    apps: dict[str, tuple[web.Application, dict[str, Any]]], service: str
) -> None:
    """`security: []` exactly on the app's public list (client generators read it as "no token");
    bearer on the API (`/v1/…`), the session cookie on the hub's dashboard and an agency node's pages."""
    app, document = apps[service]
    public = {(m, "/static/{filename}" if p == "/static" else p) for m, p in app[PUBLIC_ROUTES]}
    for key, operation in operations_of(document).items():
        path = key[1]
        if key in public:
            assert operation["security"] == [], key
            continue
        page_session = "session" if service == "hub" else "agency_session"
        expected = "bearer" if path.startswith("/v1/") or path == "/metrics" else page_session
        assert operation["security"] == [{expected: []}], key
        assert "401" in operation["responses"], key
    marked = {key for key, op in operations_of(document).items() if op["security"] == []}
    assert marked == public


@pytest.mark.parametrize("service", ["hub", "intake"])
def test_every_json_refusal_is_the_error_shape(
    apps: dict[str, tuple[web.Application, dict[str, Any]]], service: str
) -> None:
    _, document = apps[service]
    schemas = document["components"]["schemas"]
    for key, operation in operations_of(document).items():
        if key == ("GET", "/readyz"):
            continue  # its 503 is a state, with the checks that failed, not a refusal
        for status, answer in operation["responses"].items():
            json_body = answer.get("content", {}).get("application/json")
            if int(status) >= 400 and json_body is not None:
                # The error shape, or the error shape with what explains it (a 409's standing decision).
                refusal = schemas[json_body["schema"]["$ref"].rsplit("/", 1)[1]]
                assert refusal["properties"]["error"] == {"$ref": "#/components/schemas/ErrorDetail"}
                assert "error" in refusal["required"] and refusal["additionalProperties"] is False, (
                    key,
                    status,
                )
    error = document["components"]["schemas"]["ErrorDetail"]
    assert set(error["required"]) == {"code", "message", "field"}
    assert error["additionalProperties"] is False


def test_refusals_the_routes_give_are_documented() -> None:
    """The statuses each route is known to answer, written down by hand from the handlers."""
    expected = {
        ("intake", "POST", "/v1/posts"): {"202", "400", "401", "403", "413", "422"},
        ("intake", "POST", "/v1/media"): {"201", "400", "401", "403", "413", "415"},
        ("intake", "POST", "/v1/preview"): {"200", "400", "401", "403", "413", "422"},
        ("intake", "GET", "/v1/posts/{post_id}"): {"200", "401", "403", "404"},
        ("intake", "GET", "/v1/composer"): {"200", "401", "403"},
        ("intake", "POST", "/v1/drafts"): {"201", "400", "401", "403", "409", "413", "422"},
        ("intake", "PUT", "/v1/drafts/{draft_id}"): {"200", "400", "401", "403", "404", "413", "422"},
        ("intake", "DELETE", "/v1/drafts/{draft_id}"): {"204", "401", "403", "404"},
        ("intake", "GET", "/v1/drafts/{draft_id}"): {"200", "401", "404"},
        ("intake", "POST", "/v1/inbox/{conversation}/items/{item_id}/hide"): {
            "202",
            "401",
            "403",
            "404",
            "409",
            "422",
        },
        ("intake", "POST", "/v1/advocacy/consent"): {"200", "201", "400", "401", "403", "413", "422"},
        ("intake", "POST", "/v1/advocacy/accounts/{network}/connect"): {
            "200",
            "400",
            "401",
            "403",
            "404",
            "409",
            "422",
            "503",
        },
        ("intake", "POST", "/v1/advocacy/accounts/bluesky"): {
            "202",
            "400",
            "401",
            "403",
            "409",
            "422",
            "503",
        },
        ("intake", "DELETE", "/v1/advocacy/accounts/{network}"): {"200", "401", "403", "404", "409"},
        ("hub", "POST", "/v1/posts"): {"202", "400", "401", "403", "413", "422", "503"},
        ("hub", "POST", "/v1/moderation/{post_id}/approve"): {
            "200",
            "400",
            "401",
            "403",
            "404",
            "413",
            "422",
        },
        ("hub", "PUT", "/v1/policies"): {"200", "400", "401", "403", "413", "422"},
        ("hub", "POST", "/v1/dead-letters/{post_id}/{page}/{action}"): {"202", "401", "403", "404", "503"},
        ("hub", "POST", "/v1/inbox/{conversation}/items/{item_id}/hide"): {
            "202",
            "401",
            "403",
            "404",
            "409",
            "422",
        },
        ("hub", "GET", "/readyz"): {"200", "503"},
    }
    documents = {"hub": HUB_OPENAPI, "intake": intake_openapi(AGENCY, (), True)}
    for (service, method, path), statuses in expected.items():
        answered = set(documents[service]["paths"][path][method.lower()]["responses"])
        assert statuses <= answered, (service, method, path, statuses - answered)


@pytest.mark.parametrize(
    ("struct", "fields"),
    [(NewPost, ALLOWED_FIELDS), (PreviewRequest, PREVIEW_FIELDS), (CampaignRequest, CAMPAIGN_FIELDS)],
)
def test_request_types_take_exactly_the_fields_the_handlers_take(struct: Any, fields: frozenset[str]) -> None:
    assert set(struct.__struct_fields__) == set(fields)


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"text": "a", "networks": ["x"], "extra": 1}, 400, "unknown_field", "extra"),
        ({"text": "a", "networks": ["x"], "link": "http://a b"}, 422, "invalid_value", "link"),
        (
            {"text": "a", "networks": ["x"], "media": [{"id": "m", "size": 1}]},
            400,
            "unknown_field",
            "media[0].size",
        ),
        ({"text": "a", "networks": ["x"], "content_warning": 3}, 400, "invalid_type", "content_warning"),
        ({"networks": ["x"]}, 400, "missing_field", "text"),
        ({"text": "a", "networks": ["x"], "title": "<b>Forum</b>"}, 422, "invalid_value", "title"),
        ({"text": "a", "networks": ["x"], "tags": ["a", "b", "c,d"]}, 422, "invalid_value", "tags[2]"),
        ({"text": "a", "networks": ["x"], "tags": ["a", "b", 3]}, 400, "invalid_type", "tags[2]"),
        (
            {"text": "a", "networks": ["x"], "media": [{"id": "m", "captions": [{"lang": "fr"}]}]},
            400,
            "missing_field",
            "media[0].captions[0].media_id",
        ),
    ],
)
def test_conform_refuses_what_the_document_forbids_naming_the_field(
    body: dict[str, Any], status: int, code: str, field: str
) -> None:
    with pytest.raises(InputError) as refused:
        conform(body, NewPost)
    assert (refused.value.status, refused.value.code, refused.value.field) == (status, code, field)


# Written by hand from the policy (shared/post_input.py): plain text on one line, not blank, no markup.
TITLES = {
    "Forum de l'emploi 2026": True,
    "  Replay : les métiers qui recrutent  ": True,
    "مرحبا بكم": True,
    "x" * 1_000: True,
    "x" * 1_001: False,
    "<script>alert(1)</script>": False,
    "a > b": False,
    "deux\nlignes": False,
    "nul\x00": False,
    "sep\u2028": False,
    "   ": False,
    "": False,
}
TAGS = {
    "emploi": True,
    "Lyon Part-Dieu": True,
    " forum ": True,
    "x" * 100: True,
    "x" * 101: False,
    "a,b": False,
    "<b>": False,
    "\t": False,
    "": False,
}


@pytest.mark.parametrize("request_type", ["NewPost", "PreviewRequest"])
def test_the_documented_title_and_tags_are_those_the_handlers_take(request_type: str) -> None:
    """The document's title and tag schemas and the handlers' checks agree, value by value."""
    schemas = intake_openapi(AGENCY, (), True)["components"]["schemas"]
    properties = schemas[request_type]["properties"]
    title, tags = properties["title"], properties["tags"]
    assert (title["maxLength"], tags["maxItems"], tags["items"]["maxLength"]) == (1_000, 50, 100)
    for value, good in TITLES.items():
        documented = len(value) <= title["maxLength"] and bool(re.search(title["pattern"], value))
        try:
            check_title(value)
            taken = True
        except InputError:
            taken = False
        assert documented == taken == good, value
    for value, good in TAGS.items():
        item = tags["items"]
        documented = len(value) <= item["maxLength"] and bool(re.search(item["pattern"], value))
        try:
            check_tags([value])
            taken = True
        except InputError:
            taken = False
        assert documented == taken == good, value
    caption = schemas["CaptionIn"]
    assert set(caption["required"]) == {"lang", "media_id"}
    assert schemas["MediaChoiceIn"]["properties"]["captions"]["maxItems"] == 20


def test_the_error_type_is_what_json_error_sends() -> None:
    from shared.web import json_error

    response = json_error(422, "too_long", "over", "text")
    assert isinstance(response.body, bytes)
    decoded = msgspec.json.decode(response.body, type=ErrorBody)
    assert (decoded.error.code, decoded.error.message, decoded.error.field) == ("too_long", "over", "text")


def test_the_intake_document_is_the_nodes_own() -> None:
    """Its agency and pages in what it accepts, alt text required only where the node requires it."""
    document = intake_openapi(AGENCY, (f"{AGENCY}-x", f"{AGENCY}-mastodon"), True)
    new_post = document["components"]["schemas"]["NewPost"]
    selector = re.compile(new_post["properties"]["selectors"]["items"]["pattern"])
    assert selector.search(f"agency:{AGENCY}") and selector.search(f"page:{AGENCY}-x")
    assert not selector.search("agency:rennes-sud") and not selector.search(f"agency:{AGENCY}\n")
    assert not selector.search("nation") and not selector.search(f"page:{AGENCY}-xx")
    assert new_post["properties"]["pages"]["items"]["enum"] == [f"{AGENCY}-x", f"{AGENCY}-mastodon"]
    assert new_post["not"] == {"required": ["pages", "selectors"]}
    assert new_post["properties"]["media"]["items"]["$ref"].endswith("/MediaChoiceWithAlt")
    relaxed = intake_openapi(AGENCY, (), False)["components"]["schemas"]["NewPost"]
    assert relaxed["properties"]["media"]["items"]["$ref"].endswith("/MediaChoiceIn")


# ---------------------------------------------------------------------------------------------
# The README's API tables


def readme_table(marker: str) -> set[tuple[str, str]]:
    block = README.split(f"<!-- {marker}:start -->")[1].split(f"<!-- {marker}:end -->")[0]
    found = set()
    for line in block.splitlines()[2:]:
        if line.startswith("|"):
            first_cell = line.strip("|").split("|")[0]
            found |= set(re.findall(r"`(GET|POST|PUT|PATCH|DELETE) ([^`?]+)[^`]*`", first_cell))
    return found


@pytest.mark.parametrize(
    ("marker", "document"),
    [("intake-api", intake_openapi(AGENCY, (), True)), ("hub-api", HUB_OPENAPI)],
    ids=["intake", "hub"],
)
def test_the_readme_api_tables_list_exactly_the_documented_operations(
    marker: str, document: dict[str, Any]
) -> None:
    assert readme_table(marker) == set(operations_of(document))


# ---------------------------------------------------------------------------------------------
# Answers the document promises that the handlers used to refuse


async def test_the_audit_api_without_parameters_lists_the_latest_events(
    apps: dict[str, tuple[web.Application, dict[str, Any]]],
    tmp_path: Path,
    aiohttp_client: Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]],
) -> None:
    """Both its parameters are optional in the document (OpenAPI cannot say "one of two query
    parameters"): without either, the latest events of every kind, not a 400."""
    app, _ = apps["hub"]
    append_event(
        app[DATABASE],
        source="hub:test:1",
        occurred_at=utc_now(),
        post_id="",
        agency="",
        event="policy.changed",
        actor="admin",
        detail={"mode": "auto"},
    )
    client = await aiohttp_client(app)
    admin = issue_token(load_or_create_private_key(tmp_path / "keys" / "hub.pem"), role="admin", subject="a")
    response = await client.get("/v1/audit", headers={"Authorization": f"Bearer {admin}"})
    assert response.status == 200
    answer = msgspec.json.decode(await response.read(), type=AuditAnswer)
    assert [e.event for e in answer.events] == ["policy.changed"]


def test_the_documented_schedule_years_are_the_checked_ones() -> None:
    """The document's schedule pattern spells the years 2000-2999 (`2[0-9]{3}`) that check_schedule
    takes; a change to one must change the other."""
    pattern = re.compile(_schedule_pattern())
    assert SCHEDULE_YEARS == (2000, 2999)
    assert pattern.search("2000-01-01T00:00Z") and pattern.search("2999-12-31")
    assert not pattern.search("1999-12-31") and not pattern.search("3000-01-01")


def _schedule_pattern() -> str:
    schema = HUB_OPENAPI["components"]["schemas"]["CampaignRequest"]["properties"]["schedule_at"]
    return str(schema["pattern"])
