"""The Graph API's error shape, which the Facebook, Instagram and Threads emulators share.

Follows developers.facebook.com, Graph API › Guides › "Handling Errors": `{"error": {"message",
"type", "code", "error_subcode", "is_transient", "fbtrace_id"}}`, transient for the throttling
and temporary codes.
"""

from __future__ import annotations

import secrets
from typing import Any

from aiohttp import web

from .common import RateState
from .posting import Posting

__all__ = ["GraphDialect", "graph_error"]

_TRANSIENT_CODES = frozenset({1, 2, 4, 17, 32, 341, 613})


def graph_error(
    message: str, code: int, *, subcode: int | None = None, kind: str = "OAuthException"
) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message, "type": kind, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    if code in _TRANSIENT_CODES:
        error["is_transient"] = True
    error["fbtrace_id"] = secrets.token_urlsafe(8)
    return {"error": error}


class GraphDialect:
    """What the Instagram and Threads emulators share: the fault answers they give alike (they
    differ on tokens and limits) and the start of a publishing request."""

    network: str
    rate_limit: tuple[int, int]

    async def _params(self, request: web.Request) -> tuple[dict[str, Any], str] | web.Response:
        """The request's parameters and the account its token names, or the refusal."""
        raise NotImplementedError

    async def _publishing(self, request: web.Request) -> tuple[dict[str, Any], Posting] | web.Response:
        """A publishing request's parameters and its posting, or the answer that refuses it."""
        checked = await self._params(request)
        if isinstance(checked, web.Response):
            return checked
        params, account = checked
        posting = await Posting.start(request, self, self.network, account)
        return posting if isinstance(posting, web.Response) else (params, posting)

    @staticmethod
    def _respond(body: dict[str, Any], status: int = 200) -> web.Response:
        return web.json_response(body, status=status)

    def server_error(self) -> web.Response:
        return self._respond(
            graph_error("An unexpected error has occurred. Please retry your request later.", 2), 503
        )

    def blocked(self) -> web.Response:
        message = "(#368) The action attempted has been deemed abusive or is otherwise disallowed"
        return self._respond(graph_error(message, 368), 400)

    def rate_limited(self, state: RateState) -> web.Response:
        raise NotImplementedError

    def expired_token(self) -> web.Response:
        raise NotImplementedError

    def invalid_content(self) -> web.Response:
        raise NotImplementedError
