"""Connecting an advocate's personal account (issue #16 item 2): each network's OAuth 2.0
authorization code flow, as pure requests and answers. The hub's one callback endpoint per network
sends the advisor to `authorization_url` and exchanges the code with `token_request`; it alone holds
the app's client secret. Nothing here does I/O.

- X: "OAuth 2.0 Authorization Code Flow with PKCE" (docs.x.com, Fundamentals › Authentication ›
  OAuth 2.0 › User access token): `https://x.com/i/oauth2/authorize`, then `POST
  https://api.x.com/2/oauth2/token`; PKCE required (S256 here); a confidential client authenticates
  with HTTP Basic (client id and secret); `offline.access` gives a refresh token, and X rotates it at
  each refresh. Access tokens last two hours (`expires_in` 7200).
- LinkedIn: "Authorization Code Flow (3-legged OAuth)" (learn.microsoft.com, LinkedIn › Shared ›
  Authentication): `https://www.linkedin.com/oauth/v2/authorization`, then `POST
  https://www.linkedin.com/oauth/v2/accessToken` with the client id and secret in the form; no PKCE
  for a web app; `w_member_social` posts as the member; tokens last 60 days, with no refresh token
  unless LinkedIn enabled it for the app.
- Mastodon: "OAuth" (docs.joinmastodon.org, Methods › oauth): `<instance>/oauth/authorize`, then
  `POST <instance>/oauth/token` with the client id and secret in the form; PKCE (S256) since 4.3;
  tokens do not expire.

`roots` give where each is reached: the real hosts by default, the sandbox's address in tests and
`make run` (the sandbox serves every path at its root, and no two networks share one).
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote, urlencode

from shared.advocacy.pkce import challenge_s256

__all__ = [
    "OAUTH_NETWORKS",
    "SERVERS",
    "AppCredentials",
    "AuthorizationServer",
    "OAuthRefused",
    "TokenRequest",
    "Tokens",
    "authorization_url",
    "new_state",
    "parse_token_answer",
    "refresh_request",
    "token_request",
]


@dataclass(frozen=True)
class AuthorizationServer:
    network: str
    authorize_root: str  # the real host of the consent page ("" : the account's own instance)
    authorize_path: str
    token_root: str
    token_path: str
    scopes: tuple[str, ...]  # what Relais asks for: posting as the member, and reading who they are
    pkce: bool
    client_auth: Literal["basic", "form"]  # how the app proves itself at the token endpoint
    refreshes: bool  # whether the answer holds a refresh token Relais can use


SERVERS: Mapping[str, AuthorizationServer] = {
    "x": AuthorizationServer(
        "x",
        "https://x.com",
        "/i/oauth2/authorize",
        "https://api.x.com",
        "/2/oauth2/token",
        ("tweet.read", "tweet.write", "users.read", "media.write", "offline.access"),
        pkce=True,
        client_auth="basic",
        refreshes=True,
    ),
    "linkedin": AuthorizationServer(
        "linkedin",
        "https://www.linkedin.com",
        "/oauth/v2/authorization",
        "https://www.linkedin.com",
        "/oauth/v2/accessToken",
        ("openid", "profile", "w_member_social"),
        pkce=False,
        client_auth="form",
        refreshes=False,
    ),
    "mastodon": AuthorizationServer(
        "mastodon",
        "",
        "/oauth/authorize",
        "",
        "/oauth/token",
        ("write:statuses", "write:media", "read:accounts"),
        pkce=True,
        client_auth="form",
        refreshes=False,
    ),
}
OAUTH_NETWORKS = tuple(SERVERS)  # Bluesky has app passwords instead (sealed at the node)


@dataclass(frozen=True)
class AppCredentials:
    """The app registered once per network; its secret never leaves the hub."""

    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str  # the hub's callback, exactly as registered with the network


@dataclass(frozen=True)
class TokenRequest:
    url: str
    headers: dict[str, str] = field(repr=False)
    form: dict[str, str] = field(repr=False)


@dataclass(frozen=True)
class Tokens:
    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: float | None = None  # Unix time; None: the network gives no expiry
    scope: tuple[str, ...] = ()


class OAuthRefused(Exception):
    """The network refused (the advisor declined, a code expired or was used, a secret is wrong):
    its `error` code and description, never a token or secret."""

    def __init__(self, error: str, description: str = "") -> None:
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error


def new_state() -> str:
    """An unguessable `state`, bound at the hub to one advocate, one network and one verifier."""
    return secrets.token_urlsafe(32)


def _root(server: AuthorizationServer, roots: Mapping[str, str], default: str) -> str:
    root = roots.get(server.network) or default
    if not root:
        raise ValueError(f"{server.network}: the account's instance address is needed")
    return root.rstrip("/")


def authorization_url(
    network: str, app: AppCredentials, state: str, verifier: str | None, roots: Mapping[str, str] = {}
) -> str:
    """Where the advisor consents. `verifier` is the PKCE secret kept at the hub (None where the
    network takes no PKCE); `roots[network]` replaces the real host (the sandbox, an instance)."""
    server = SERVERS[network]
    query = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": app.redirect_uri,
        "scope": " ".join(server.scopes),
        "state": state,
    }
    if server.pkce:
        if verifier is None:
            raise ValueError(f"{network} needs a PKCE verifier")
        query |= {"code_challenge": challenge_s256(verifier), "code_challenge_method": "S256"}
    root = _root(server, roots, server.authorize_root)
    return f"{root}{server.authorize_path}?{urlencode(query, quote_via=quote)}"


def _client_auth(server: AuthorizationServer, app: AppCredentials) -> tuple[dict[str, str], dict[str, str]]:
    if server.client_auth == "basic":
        pair = base64.b64encode(f"{app.client_id}:{app.client_secret}".encode()).decode()
        return {"Authorization": f"Basic {pair}"}, {"client_id": app.client_id}
    return {}, {"client_id": app.client_id, "client_secret": app.client_secret}


def token_request(
    network: str, app: AppCredentials, code: str, verifier: str | None, roots: Mapping[str, str] = {}
) -> TokenRequest:
    """The code-for-token exchange (a form POST)."""
    server = SERVERS[network]
    headers, form = _client_auth(server, app)
    form |= {"grant_type": "authorization_code", "code": code, "redirect_uri": app.redirect_uri}
    if server.pkce:
        if verifier is None:
            raise ValueError(f"{network} needs the PKCE verifier")
        form["code_verifier"] = verifier
    root = _root(server, roots, server.token_root)
    return TokenRequest(f"{root}{server.token_path}", headers, form)


def refresh_request(
    network: str, app: AppCredentials, refresh_token: str, roots: Mapping[str, str] = {}
) -> TokenRequest:
    server = SERVERS[network]
    if not server.refreshes:
        raise ValueError(f"{network} gives Relais no refresh token: the advocate connects again")
    headers, form = _client_auth(server, app)
    form |= {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return TokenRequest(f"{_root(server, roots, server.token_root)}{server.token_path}", headers, form)


def parse_token_answer(status: int, body: Any, now: float | None = None) -> Tokens:
    """The tokens of a 200 answer; `OAuthRefused` with the network's `error` otherwise (RFC 6749
    §5.2, which all three follow)."""
    if not isinstance(body, dict):
        raise OAuthRefused("invalid_response", f"HTTP {status} without a JSON object")
    if status != 200 or "error" in body:
        raise OAuthRefused(
            str(body.get("error") or f"http_{status}"), str(body.get("error_description") or "")
        )
    access = body.get("access_token")
    if not isinstance(access, str) or not access:
        raise OAuthRefused("invalid_response", "no access_token in the answer")
    expires_in = body.get("expires_in")
    expires_at = None
    if isinstance(expires_in, int) and not isinstance(expires_in, bool) and expires_in > 0:
        expires_at = (now if now is not None else time.time()) + expires_in
    refresh = body.get("refresh_token")
    scope = body.get("scope")
    return Tokens(
        access_token=access,
        refresh_token=refresh if isinstance(refresh, str) and refresh else None,
        expires_at=expires_at,
        scope=tuple(scope.replace(",", " ").split()) if isinstance(scope, str) else (),
    )
