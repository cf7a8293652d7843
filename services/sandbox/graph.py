"""The Graph API's error shape, which the Facebook, Instagram and Threads emulators share.

Follows developers.facebook.com, Graph API › Guides › "Handling Errors": `{"error": {"message",
"type", "code", "error_subcode", "is_transient", "fbtrace_id"}}`, transient for the throttling
and temporary codes.

The insights edge the three share (Page Insights, Instagram Media Insights, Threads Insights API ›
Media Insights): `GET /{object-id}/insights?metric=a,b` → `{"data": [{"name", "period": "lifetime",
"values": [{"value"}], "title", "description", "id": "{object-id}/insights/{name}/lifetime"}]}`, one
entry per metric asked, in the order asked; a metric the edge does not have is error 100 ("The API
returns an invalid metric error"). Overview › "Rate limits" › Business Use Case rate limits: a
throttled read answers its use case's code with `X-Business-Use-Case-Usage` (`{"<id>": [{"type",
"call_count", "total_cputime", "total_time", "estimated_time_to_regain_access"}]}`, minutes).
"""

from __future__ import annotations

import json
import math
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .common import RateState
from .faults import Dialect
from .posting import Posting

__all__ = ["GraphDialect", "InsightsDialect", "asked_metrics", "graph_error", "insights"]

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


def asked_metrics(request: web.Request, described: Mapping[str, str]) -> list[str] | web.Response:
    """The metrics the `metric` parameter asks, each one the edge has (`described`: name → title);
    the Graph's refusal otherwise."""
    names = [name.strip() for name in request.query.get("metric", "").split(",") if name.strip()]
    if not names:
        return web.json_response(graph_error("(#100) The parameter metric is required", 100), status=400)
    for index, name in enumerate(names):
        if name not in described:
            message = f"(#100) metric[{index}] must be one of the following values: {', '.join(described)}"
            return web.json_response(graph_error(message, 100), status=400)
    return names


def insights(object_id: str, values: Mapping[str, int], described: Mapping[str, str]) -> dict[str, Any]:
    """The insights edge's answer: each metric's lifetime value, in the order given."""
    data = [
        {
            "name": name,
            "period": "lifetime",
            "values": [{"value": value}],
            "title": described[name],
            "description": described[name],
            "id": f"{object_id}/insights/{name}/lifetime",
        }
        for name, value in values.items()
    ]
    return {"data": data, "paging": {}}


@dataclass
class InsightsDialect:
    """How an account's reads of figures answer the faults: as its emulator's dialect, except a rate
    limit, which is the read's Business Use Case throttle (`code`, with its usage header)."""

    base: Dialect
    account: str
    use_case: str  # the header's `type`: "instagram", "threads"…
    code: int
    message: str
    rate_limit: tuple[int, int]  # the read's window (calls, seconds)

    def rate_limited(self, state: RateState) -> web.Response:
        minutes = math.ceil(max(state.reset_at - time.time(), 0) / 60)
        usage = {"call_count": 100, "total_cputime": 0, "total_time": 0}
        buc = {self.account: [{"type": self.use_case, **usage, "estimated_time_to_regain_access": minutes}]}
        headers = {"X-Business-Use-Case-Usage": json.dumps(buc)}
        return web.json_response(graph_error(self.message, self.code), status=400, headers=headers)

    def server_error(self) -> web.Response:
        return self.base.server_error()

    def expired_token(self) -> web.Response:
        return self.base.expired_token()

    def blocked(self) -> web.Response:
        return self.base.blocked()

    def invalid_content(self) -> web.Response:
        return self.base.invalid_content()
