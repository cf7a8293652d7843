"""How long a client may take to send a request, in every service's HTTP server: a connection that
trickles its headers or its body is closed, so that a few dozen slow clients cannot hold the
server's connections (slowloris).

- Headers: aiohttp has no header timeout of its own, but its keep-alive timer is one. It starts when
  the connection opens (and again after each answer) and closes the connection if no whole request
  head has arrived when it fires; bytes of a partial head do not restart it. So `keepalive_timeout`
  bounds both the wait for a request's headers and the idle time between requests.
- Body: `bounded_body` gives each request `RELAIS_HTTP_BODY_TIMEOUT` seconds, plus one per
  `MIN_BODY_RATE` bytes it declares (a large upload on a slow link is not a trickle). A body still
  incomplete then fails its reader with a 408 in the JSON error shape, and the connection closes.
  A body the handler never reads is drained by aiohttp for at most its lingering time (10 s).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Middleware

from shared import config
from shared.http_body import BodyError

__all__ = ["MIN_BODY_RATE", "ReadBounds", "bounded_body"]

MIN_BODY_RATE = 64 * 1024  # bytes per second a declared body may take beyond the base time
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class ReadBounds:
    header_seconds: int
    body_seconds: int

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> ReadBounds:
        return cls(
            header_seconds=config.env_int(env, "RELAIS_HTTP_HEADER_TIMEOUT", 15),
            body_seconds=config.env_int(env, "RELAIS_HTTP_BODY_TIMEOUT", 60),
        )


def bounded_body(seconds: int) -> Middleware:
    @web.middleware
    async def bound_body_read(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.can_read_body:
            return await handler(request)
        expired = []

        def expire() -> None:
            if not request.content.is_eof():
                expired.append(True)
                message = f"the body did not arrive within {round(deadline)} s"
                request.content.set_exception(BodyError(408, "body_timeout", message))

        deadline = seconds + (request.content_length or 0) / MIN_BODY_RATE
        timer = asyncio.get_running_loop().call_later(deadline, expire)
        try:
            response = await handler(request)  # error_middleware answers the BodyError (408)
        finally:
            timer.cancel()
        if expired:
            # Answer now, then close: what the client still sends is never read.
            response.force_close()
            await response.prepare(request)
            await response.write_eof()
            request.protocol.force_close()
        return response

    return bound_body_read
