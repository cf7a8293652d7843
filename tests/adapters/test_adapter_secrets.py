"""Tokens and passwords never appear in what an adapter raises, even when a server quotes them back."""

from __future__ import annotations

import traceback

import aiohttp
import pytest
from adapter_kit import Arm, page
from aiohttp import web
from aiohttp.test_utils import TestServer
from pytest_aiohttp import AiohttpServer

from services.dispatcher.adapters import DeliveryError, PageAccount, UnknownOutcome, adapter_for
from services.dispatcher.app import network_session

PLANTED = "planted-secret-7f3a9c"


def credentials_for(network: str) -> dict[str, str]:
    if network == "bluesky":
        return {"identifier": "lyon", "password": PLANTED}
    return {"token": PLANTED}


def everything_said(error: BaseException) -> str:
    """All an exception could show: message, repr, attributes and the formatted chain."""
    said = [str(error), repr(error), "".join(traceback.format_exception(error))]
    said += [str(value) for value in vars(error).values()]
    return "\n".join(said)


async def _echo(request: web.Request) -> web.Response:
    """A hostile server: every error quotes back whatever secrets the request carried."""
    body = await request.text()
    quoted = f"you sent {request.headers.get('Authorization', '')} and {body}"
    path = request.path
    if path.endswith("createSession"):
        # Let the login succeed with tokens that are secrets too, so createRecord gets the echo.
        return web.json_response(
            {
                "did": "did:plc:echo",
                "handle": "lyon.test",
                "accessJwt": PLANTED + "-access",
                "refreshJwt": PLANTED + "-refresh",
            }
        )
    if path.startswith("/xrpc/"):
        return web.json_response({"error": "InvalidRequest", "message": quoted}, status=400)
    if path == "/2/tweets":
        return web.json_response({"errors": [{"message": quoted}], "title": "Invalid Request"}, status=400)
    if path == "/api/v1/statuses":
        return web.json_response({"error": quoted}, status=422)
    if path == "/rest/posts":
        return web.json_response({"status": 422, "message": quoted}, status=422)
    return web.json_response(
        {"error": {"message": quoted, "type": "OAuthException", "code": 100}}, status=400
    )


@pytest.fixture
async def echo_server(aiohttp_server: AiohttpServer) -> TestServer:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", _echo)
    return await aiohttp_server(app)


@pytest.mark.parametrize("network", ["x", "mastodon", "bluesky", "linkedin", "facebook"])
async def test_secrets_quoted_by_a_server_are_redacted(network: str, echo_server: TestServer) -> None:
    account = PageAccount(
        "p", network, "lyon", credentials_for(network), str(echo_server.make_url("")).rstrip("/")
    )

    async with aiohttp.ClientSession() as http:
        with pytest.raises(DeliveryError) as caught:
            await adapter_for(network, http).publish(account, ["hello"], idempotency_key="d")

    assert PLANTED not in everything_said(caught.value)
    assert "you sent" in caught.value.message


@pytest.mark.parametrize("network", ["x", "mastodon", "bluesky", "linkedin", "facebook"])
async def test_planted_secrets_stay_out_of_real_refusals(network: str, base_url: str) -> None:
    account = PageAccount("p", network, "lyon", credentials_for(network), base_url)

    async with aiohttp.ClientSession() as http:
        with pytest.raises(DeliveryError) as caught:
            await adapter_for(network, http).publish(account, ["hello"], idempotency_key="d")

    assert caught.value.kind == "auth"
    assert PLANTED not in everything_said(caught.value)


@pytest.mark.parametrize("network", ["x", "mastodon", "linkedin", "facebook"])
async def test_secrets_stay_out_of_unknown_outcomes(network: str, base_url: str, arm: Arm) -> None:
    handle = "1234" if network in ("linkedin", "facebook") else "lyon"
    token = f"sbx-{network}-{handle}"
    await arm(network, handle, "disconnect_after_create")
    account = page(network, handle, base_url, token=token)

    async with aiohttp.ClientSession() as http:
        with pytest.raises(UnknownOutcome) as caught:
            await adapter_for(network, http).publish(account, ["hello"], idempotency_key="d")

    assert token not in everything_said(caught.value)


async def test_a_cookie_set_for_one_page_never_rides_with_another_pages_call(
    aiohttp_server: AiohttpServer,
) -> None:
    """The dispatcher's one HTTP session serves every page of a network: a cookie the network set in
    its answer to one account must not be sent with the next account's call (policy: the only
    credential a call carries is its own page's token)."""
    seen: list[tuple[str, str]] = []

    async def statuses(request: web.Request) -> web.Response:
        seen.append((request.headers["Authorization"], request.headers.get("Cookie", "")))
        account = request.headers["Authorization"].rsplit("-", 1)[-1]
        response = web.json_response({"id": f"1{len(seen)}", "url": f"https://m.example/@{account}/1"})
        response.set_cookie("session", f"of-{account}", path="/")
        return response

    app = web.Application()
    app.router.add_post("/api/v1/statuses", statuses)
    server = await aiohttp_server(app)
    # A host name, not an IP address: aiohttp's default jar would keep cookies for it.
    base = f"http://localhost:{server.port}"
    async with network_session(concurrency=4) as http:
        adapter = adapter_for("mastodon", http)
        for name in ("lyon", "lille"):
            account = PageAccount(name, "mastodon", name, {"token": f"tok-{name}"}, base)
            await adapter.publish(account, ["bonjour"], idempotency_key=f"post.mastodon.{name}")

    assert [auth for auth, _ in seen] == ["Bearer tok-lyon", "Bearer tok-lille"]
    assert [cookie for _, cookie in seen] == ["", ""]
