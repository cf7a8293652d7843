"""The networks' authorization servers, for advocates connecting their personal accounts (issue #16
item 2): X's, LinkedIn's and Mastodon's OAuth 2.0 authorization code flow, as each documents it (see
shared/advocacy/oauth.py for the sections), served at the sandbox's root like the APIs.

- The registered app of each network is `sbx-<network>-client` with the secret
  `sbx-<network>-secret`; its one registered redirect URI is the hub's callback,
  `<RELAIS_SANDBOX_WEBHOOK_URL>/oauth/<network>/callback` (the hub's address, as for webhooks).
  Another redirect URI, an unknown client, a missing `state` (X) or a missing or non-S256 PKCE
  challenge (X; Mastodon when one is given) is refused with a 400 page, never redirected (RFC 6749
  §4.1.2.1: the server must not redirect to an unchecked address).
- `GET <authorize path>` shows the consent page: the account's handle and two buttons. Its form posts
  back `decision=allow|deny`: allow redirects to the callback with `code` and `state`, deny with
  `error=access_denied` and `state`.
- `POST <token path>` exchanges a code once (ten minutes, for the same client and redirect URI, with
  the verifier of its challenge) for tokens in the sandbox's form, `sbx-<network>-<handle>`, which
  every emulator accepts as that account's; X adds a refresh token and rotates it at each
  `grant_type=refresh_token`. Refusals are each network's JSON (`error`, `error_description`).
- `GET /v2/userinfo`: LinkedIn's OpenID Connect identity of the token's member (`sub`, `name`…), as
  "Sign In with LinkedIn using OpenID Connect" documents it; `sub` is the member's id, the one of
  `urn:li:person:<sub>` (X's `/2/users/me` and Mastodon's `verify_credentials` are their emulators').
- `POST /_sandbox/oauth/consent` `{"network", "url", "account", "decision"}`: what a person's browser
  does on the consent page, for tests: answers `{"location"}`, the callback address the network
  sends the browser to (or a 400 with the page's reason).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from aiohttp import web

from .common import bearer_token, check_token
from .webhooks import WEBHOOK_URL

__all__ = ["add_routes"]

_CODE_LIFETIME = 600.0
_HANDLE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-.")


@dataclass(frozen=True)
class _Server:
    network: str
    authorize_path: str
    token_path: str
    scopes: frozenset[str]
    pkce_required: bool
    basic_auth: bool  # the client authenticates with HTTP Basic (X), else in the form
    expires_in: int | None
    refreshes: bool


_SERVERS = {
    "x": _Server(
        "x",
        "/i/oauth2/authorize",
        "/2/oauth2/token",
        frozenset({"tweet.read", "tweet.write", "users.read", "media.write", "offline.access"}),
        pkce_required=True,
        basic_auth=True,
        expires_in=7200,
        refreshes=True,
    ),
    "linkedin": _Server(
        "linkedin",
        "/oauth/v2/authorization",
        "/oauth/v2/accessToken",
        frozenset({"openid", "profile", "email", "w_member_social"}),
        pkce_required=False,
        basic_auth=False,
        expires_in=5_184_000,
        refreshes=False,
    ),
    "mastodon": _Server(
        "mastodon",
        "/oauth/authorize",
        "/oauth/token",
        frozenset({"read", "write", "write:statuses", "write:media", "read:accounts"}),
        pkce_required=False,
        basic_auth=False,
        expires_in=None,
        refreshes=False,
    ),
}


@dataclass
class _Grant:
    network: str
    account: str
    redirect_uri: str
    scope: str
    challenge: str | None
    issued: float


_CODES = web.AppKey("oauth_codes", dict[str, _Grant])
_REFRESH = web.AppKey(
    "oauth_refresh_tokens", dict[str, tuple[str, str, str]]
)  # token -> (network, account, scope)


class _Refused(Exception):
    pass


def _client(network: str) -> tuple[str, str]:
    return f"sbx-{network}-client", f"sbx-{network}-secret"


def _redirect_uri(request: web.Request, network: str) -> str:
    hub = request.app[WEBHOOK_URL].rstrip("/")
    return f"{hub}/oauth/{network}/callback" if hub else ""


def _check_authorization(request: web.Request, server: _Server, query: dict[str, str]) -> None:
    """Raise `_Refused` with the page's reason for a request the server must not redirect."""
    client_id, _ = _client(server.network)
    if query.get("client_id") != client_id:
        raise _Refused("unknown client_id")
    registered = _redirect_uri(request, server.network)
    if not registered or query.get("redirect_uri") != registered:
        raise _Refused("redirect_uri is not the app's registered callback")
    if query.get("response_type") != "code":
        raise _Refused("response_type must be code")
    scopes = set(query.get("scope", "").split())
    if not scopes or not scopes <= server.scopes:
        raise _Refused(f"scope must be among {' '.join(sorted(server.scopes))}")
    if server.network == "x" and not query.get("state"):
        raise _Refused("state is required")
    challenge, method = query.get("code_challenge"), query.get("code_challenge_method")
    if (server.pkce_required or challenge) and (not challenge or method != "S256"):
        raise _Refused("code_challenge with code_challenge_method=S256 is required")


def _location(redirect_uri: str, **params: str) -> str:
    return f"{redirect_uri}?{urlencode(params)}"


def _decide(request: web.Request, server: _Server, query: dict[str, str], account: str, allow: bool) -> str:
    """The callback address the network sends the browser to after the person's choice."""
    state = {"state": query["state"]} if query.get("state") else {}
    if not allow:
        return _location(query["redirect_uri"], error="access_denied", **state)
    if not account or not set(account) <= _HANDLE_CHARS:
        raise _Refused("the account handle is lower-case letters, digits, _, - and .")
    code = secrets.token_urlsafe(24)
    request.app[_CODES][code] = _Grant(
        server.network,
        account,
        query["redirect_uri"],
        query["scope"],
        query.get("code_challenge"),
        time.time(),
    )
    return _location(query["redirect_uri"], code=code, **state)


def _page(status: int, body: str) -> web.Response:
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sandbox sign-in</title></head>'
        f"<body><main>{body}</main></body></html>"
    )
    return web.Response(status=status, text=html, content_type="text/html")


def _authorize_page(server: _Server) -> Any:
    async def handler(request: web.Request) -> web.Response:
        query = dict(request.query)
        try:
            _check_authorization(request, server, query)
        except _Refused as refused:
            return _page(400, f"<h1>Error</h1><p>{escape(str(refused))}</p>")
        if request.method == "POST":
            form = await request.post()
            try:
                location = _decide(
                    request, server, query, str(form.get("account", "")), form.get("decision") == "allow"
                )
            except _Refused as refused:
                return _page(400, f"<h1>Error</h1><p>{escape(str(refused))}</p>")
            raise web.HTTPFound(location)
        scopes = "".join(f"<li>{escape(scope)}</li>" for scope in query["scope"].split())
        return _page(
            200,
            f"<h1>Sandbox {escape(server.network)}: authorise Relais?</h1>"
            f"<p>It asks for:</p><ul>{scopes}</ul>"
            '<form method="post"><label for="account">Your account</label> '
            '<input id="account" name="account" autocomplete="username" required> '
            '<button name="decision" value="allow">Authorise</button> '
            '<button name="decision" value="deny">Cancel</button></form>',
        )

    return handler


def _error(server: _Server, status: int, error: str, description: str) -> web.Response:
    return web.json_response({"error": error, "error_description": description}, status=status)


def _client_ok(request: web.Request, server: _Server, form: dict[str, str]) -> bool:
    client_id, secret = _client(server.network)
    if server.basic_auth:
        header = request.headers.get("Authorization", "")
        expected = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        return header == f"Basic {expected}"
    return form.get("client_id") == client_id and form.get("client_secret") == secret


def _tokens(request: web.Request, server: _Server, account: str, scope: str) -> dict[str, Any]:
    answer: dict[str, Any] = {"access_token": f"sbx-{server.network}-{account}", "scope": scope}
    answer["token_type"] = "bearer" if server.network == "x" else "Bearer"
    if server.expires_in is not None:
        answer["expires_in"] = server.expires_in
    if server.network == "mastodon":
        answer["created_at"] = int(time.time())
    if server.refreshes and "offline.access" in scope.split():
        refresh = f"sbx-refresh-{server.network}-{secrets.token_urlsafe(16)}"
        request.app[_REFRESH][refresh] = (server.network, account, scope)
        answer["refresh_token"] = refresh
    return answer


def _token_endpoint(server: _Server) -> Any:
    async def handler(request: web.Request) -> web.Response:
        form = {key: str(value) for key, value in (await request.post()).items()}
        if not _client_ok(request, server, form):
            return _error(server, 401, "invalid_client", "Client authentication failed.")
        grant_type = form.get("grant_type")
        if grant_type == "refresh_token" and server.refreshes:
            known = request.app[_REFRESH].pop(form.get("refresh_token", ""), None)  # rotated: used once
            if known is None or known[0] != server.network:
                return _error(
                    server, 400, "invalid_request", "Value passed for the refresh token was invalid."
                )
            return web.json_response(_tokens(request, server, known[1], known[2]))
        if grant_type != "authorization_code":
            return _error(
                server, 400, "unsupported_grant_type", "The authorization grant type is not supported."
            )
        grant = request.app[_CODES].pop(form.get("code", ""), None)  # a code is used once
        invalid = (
            "The provided authorization grant is invalid, expired, revoked, does not match the redirection"
            " URI used in the authorization request, or was issued to another client."
        )
        if (
            grant is None
            or grant.network != server.network
            or time.time() - grant.issued > _CODE_LIFETIME
            or form.get("redirect_uri") != grant.redirect_uri
        ):
            return _error(server, 400, "invalid_grant", invalid)
        if grant.challenge is not None:
            verifier = form.get("code_verifier", "")
            digest = (
                base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            )
            if digest != grant.challenge:
                return _error(server, 400, "invalid_grant", invalid)
        return web.json_response(_tokens(request, server, grant.account, grant.scope))

    return handler


async def _consent(request: web.Request) -> web.Response:
    """A person's browser on the consent page, for tests (see the module's docstring)."""
    body = await request.json()
    server = _SERVERS.get(str(body.get("network")))
    if server is None:
        return web.json_response(
            {"error": {"code": "invalid", "message": "unknown network", "field": "network"}}, status=400
        )
    parts = urlsplit(str(body.get("url", "")))
    if parts.path != server.authorize_path:
        return web.json_response(
            {"error": {"code": "invalid", "message": "not this network's consent page", "field": "url"}},
            status=400,
        )
    query = dict(parse_qsl(parts.query))
    try:
        _check_authorization(request, server, query)
        location = _decide(
            request, server, query, str(body.get("account", "")), body.get("decision") == "allow"
        )
    except _Refused as refused:
        return web.json_response(
            {"error": {"code": "refused", "message": str(refused), "field": None}}, status=400
        )
    return web.json_response({"location": location})


async def _linkedin_userinfo(request: web.Request) -> web.Response:
    """LinkedIn's `GET /v2/userinfo` (OpenID Connect): who the token's member is."""
    caller = check_token(bearer_token(request), "linkedin")
    if caller.account is None:
        return web.json_response(
            {
                "status": 401,
                "serviceErrorCode": 65600,
                "code": "INVALID_ACCESS_TOKEN",
                "message": "Invalid access token",
            },
            status=401,
        )
    member = caller.account
    return web.json_response(
        {
            # The emulator knows a member by her account: `urn:li:person:<account>` is the author
            # its Posts API lets her token write as, so that is her id here too.
            "sub": member,
            "email_verified": True,
            "name": member,
            "given_name": member,
            "family_name": "",
            "locale": {"country": "FR", "language": "fr"},
        }
    )


def add_routes(app: web.Application) -> None:
    app[_CODES] = {}
    app[_REFRESH] = {}
    for server in _SERVERS.values():
        page = _authorize_page(server)
        app.router.add_get(server.authorize_path, page)
        app.router.add_post(server.authorize_path, page)
        app.router.add_post(server.token_path, _token_endpoint(server))
    app.router.add_post("/_sandbox/oauth/consent", _consent)
    app.router.add_get("/v2/userinfo", _linkedin_userinfo)
