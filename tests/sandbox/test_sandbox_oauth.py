"""The networks' authorization servers in the sandbox, driven by Relais's own OAuth client
(shared/advocacy/oauth.py), issue #16 item 2.

The policy, written by hand from each network's documentation: a consent gives a code sent back to
the registered callback with the same `state`; the code is exchanged once, by the registered client
(X: HTTP Basic; LinkedIn, Mastodon: in the form), for the same redirect URI, with the verifier of its
PKCE challenge where one was given (X always); a refusal comes back as `error=access_denied` with the
state; the tokens post as the account that consented; X's refresh token is rotated (used once)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sandbox_kit import Sandbox

from services.sandbox.settings import Settings
from shared.advocacy.oauth import (
    OAUTH_NETWORKS,
    AppCredentials,
    OAuthRefused,
    Tokens,
    authorization_url,
    new_state,
    parse_token_answer,
    refresh_request,
    token_request,
)
from shared.advocacy.pkce import new_verifier

HUB = "http://hub.test"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", webhook_url=HUB)


def app(network: str, secret: str | None = None) -> AppCredentials:
    return AppCredentials(
        client_id=f"sbx-{network}-client",
        client_secret=secret or f"sbx-{network}-secret",
        redirect_uri=f"{HUB}/oauth/{network}/callback",
    )


def roots(sandbox: Sandbox) -> dict[str, str]:
    base = str(sandbox.make_url("")).rstrip("/")
    return {network: base for network in OAUTH_NETWORKS}


async def consent(sandbox: Sandbox, network: str, url: str, decision: str = "allow") -> dict[str, list[str]]:
    answer = await sandbox.post(
        "/_sandbox/oauth/consent",
        json={"network": network, "url": url, "account": "claire", "decision": decision},
    )
    assert answer.status == 200, await answer.text()
    location = urlsplit((await answer.json())["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{HUB}/oauth/{network}/callback"
    return parse_qs(location.query)


async def exchange(
    sandbox: Sandbox, network: str, code: str, verifier: str | None, secret: str | None = None
) -> Tokens:
    request = token_request(network, app(network, secret), code, verifier, roots(sandbox))
    path = urlsplit(request.url).path
    answer = await sandbox.post(path, data=request.form, headers=request.headers)
    return parse_token_answer(answer.status, await answer.json())


async def connect(sandbox: Sandbox, network: str) -> tuple[Tokens, str, str]:
    state, verifier = new_state(), new_verifier()
    url = authorization_url(network, app(network), state, verifier, roots(sandbox))
    back = await consent(sandbox, network, url)
    assert back["state"] == [state]
    return await exchange(sandbox, network, back["code"][0], verifier), back["code"][0], verifier


@pytest.mark.parametrize("network", OAUTH_NETWORKS)
async def test_a_consent_gives_tokens_that_post_as_the_account(sandbox: Sandbox, network: str) -> None:
    tokens, _, _ = await connect(sandbox, network)

    assert tokens.access_token == f"sbx-{network}-claire"
    assert (tokens.expires_at is None) is (network == "mastodon")  # Mastodon's tokens do not expire
    assert (tokens.refresh_token is not None) is (network == "x")  # offline.access; LinkedIn: not enabled
    if network == "x":  # the X emulator takes it as claire's
        bearer = {"Authorization": f"Bearer {tokens.access_token}"}
        posted = await sandbox.post("/2/tweets", json={"text": "Le salon ouvre jeudi"}, headers=bearer)
        assert posted.status == 201, await posted.text()


@pytest.mark.parametrize("network", OAUTH_NETWORKS)
async def test_a_declined_consent_comes_back_as_access_denied_with_the_state(
    sandbox: Sandbox, network: str
) -> None:
    state = new_state()
    url = authorization_url(network, app(network), state, new_verifier(), roots(sandbox))
    back = await consent(sandbox, network, url, decision="deny")
    assert back == {"error": ["access_denied"], "state": [state]}


@pytest.mark.parametrize("network", OAUTH_NETWORKS)
async def test_a_code_is_exchanged_once_by_its_client_with_its_verifier(
    sandbox: Sandbox, network: str
) -> None:
    state, verifier = new_state(), new_verifier()
    url = authorization_url(network, app(network), state, verifier, roots(sandbox))
    code = (await consent(sandbox, network, url))["code"][0]
    pkce = network != "linkedin"  # LinkedIn takes no PKCE from a web app

    with pytest.raises(OAuthRefused) as wrong_client:
        await exchange(sandbox, network, code, verifier, secret="stolen")
    assert wrong_client.value.error == "invalid_client"
    if pkce:
        with pytest.raises(OAuthRefused) as wrong_verifier:
            await exchange(sandbox, network, code, new_verifier())
        assert wrong_verifier.value.error == "invalid_grant"
        # the failed attempt used the code up, as a network does: consent again
        code = (await consent(sandbox, network, url))["code"][0]
    await exchange(sandbox, network, code, verifier)
    with pytest.raises(OAuthRefused) as reused:
        await exchange(sandbox, network, code, verifier)
    assert reused.value.error == "invalid_grant"


async def test_a_consent_page_for_another_callback_or_without_pkce_is_refused_unredirected(
    sandbox: Sandbox,
) -> None:
    url = authorization_url("x", app("x"), new_state(), new_verifier(), roots(sandbox))
    elsewhere = url.replace("hub.test", "attacker.test")
    without_pkce = url.split("&code_challenge=")[0]
    for bad in (elsewhere, without_pkce):
        answer = await sandbox.post(
            "/_sandbox/oauth/consent",
            json={"network": "x", "url": bad, "account": "claire", "decision": "allow"},
        )
        assert answer.status == 400, bad
        page = await sandbox.get(urlsplit(bad).path + "?" + urlsplit(bad).query, allow_redirects=False)
        assert page.status == 400 and "location" not in page.headers


async def test_the_consent_page_is_a_form_that_redirects_to_the_callback(sandbox: Sandbox) -> None:
    state = new_state()
    url = authorization_url("mastodon", app("mastodon"), state, new_verifier(), roots(sandbox))
    target = urlsplit(url).path + "?" + urlsplit(url).query
    page = await sandbox.get(target)
    assert page.status == 200 and '<label for="account">' in await page.text()

    answer = await sandbox.post(
        target, data={"account": "claire", "decision": "allow"}, allow_redirects=False
    )

    assert answer.status == 302
    back = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert back["state"] == [state] and back["code"]


async def test_xs_refresh_token_is_rotated(sandbox: Sandbox) -> None:
    tokens, _, _ = await connect(sandbox, "x")
    assert tokens.refresh_token is not None

    async def refresh(token: str) -> Tokens:
        request = refresh_request("x", app("x"), token, roots(sandbox))
        answer = await sandbox.post(urlsplit(request.url).path, data=request.form, headers=request.headers)
        return parse_token_answer(answer.status, await answer.json())

    renewed = await refresh(tokens.refresh_token)
    assert renewed.access_token == "sbx-x-claire" and renewed.refresh_token not in (
        None,
        tokens.refresh_token,
    )
    with pytest.raises(OAuthRefused):
        await refresh(tokens.refresh_token)  # used once
    with pytest.raises(ValueError, match="connects again"):
        refresh_request("linkedin", app("linkedin"), "anything", roots(sandbox))


async def test_linkedins_userinfo_names_the_member_the_token_is_for(sandbox: Sandbox) -> None:
    """OpenID Connect's `GET /v2/userinfo`: `sub` is the member's id, stable for her token; no
    token, or another network's, is LinkedIn's 401."""
    tokens, _, _ = await connect(sandbox, "linkedin")
    first = await sandbox.get("/v2/userinfo", headers={"Authorization": f"Bearer {tokens.access_token}"})
    again = await sandbox.get("/v2/userinfo", headers={"Authorization": f"Bearer {tokens.access_token}"})
    body = await first.json()
    assert first.status == 200 and body["name"] == "claire" and body["sub"] == (await again.json())["sub"]
    for headers in ({}, {"Authorization": "Bearer sbx-x-claire"}):
        refused = await sandbox.get("/v2/userinfo", headers=headers)
        assert refused.status == 401 and (await refused.json())["code"] == "INVALID_ACCESS_TOKEN"


async def test_a_linkedin_member_posts_as_the_person_urn_her_userinfo_names(sandbox: Sandbox) -> None:
    """The id `GET /v2/userinfo` gives is the one of `urn:li:person:<sub>`, the author her token posts
    as (what the hub seals for the dispatcher); another member's URN is LinkedIn's 403."""
    tokens, _, _ = await connect(sandbox, "linkedin")
    bearer = {"Authorization": f"Bearer {tokens.access_token}"}
    sub = (await (await sandbox.get("/v2/userinfo", headers=bearer)).json())["sub"]
    headers = {**bearer, "LinkedIn-Version": "202601", "X-Restli-Protocol-Version": "2.0.0"}
    for author, expected in ((f"urn:li:person:{sub}", 201), ("urn:li:person:bruno", 403)):
        body = {
            "author": author,
            "commentary": "Le salon ouvre jeudi",
            "visibility": "PUBLIC",
            "distribution": {"feedDistribution": "MAIN_FEED"},
            "lifecycleState": "PUBLISHED",
        }
        posted = await sandbox.post("/rest/posts", json=body, headers=headers)
        assert posted.status == expected, (author, await posted.text())
