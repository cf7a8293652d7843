"""HTTP and process plumbing every service needs: JSON errors, health routes, bind-or-explain,
signal handling. Kept here so that the five services answer errors and health the same way.
"""

from __future__ import annotations

import asyncio
import errno
import signal
import sys
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from shared import config
from shared.api_contract import ErrorBody, ErrorDetail, Health, Readiness, typed_json
from shared.http_body import BodyError
from shared.private_files import keep_files_private
from shared.read_bounds import ReadBounds, bounded_body
from shared.tokens import Claims, TokenError, verify_token

__all__ = [
    "CLAIMS",
    "REVOCATIONS",
    "AuthError",
    "ReadyCheck",
    "add_health_routes",
    "bearer_claims",
    "error_middleware",
    "json_error",
    "run_until_stopped",
    "start_site",
]

log = structlog.get_logger("relais.web")

ReadyCheck = Callable[[], Awaitable[dict[str, bool]]]
RevocationCheck = Callable[[str], bool]
# Set by a service that knows revoked token ids; `bearer_claims` consults it when present.
REVOCATIONS: web.AppKey[RevocationCheck] = web.AppKey("revocations", RevocationCheck)  # type: ignore[arg-type]
# Request key: the claims of whoever the request authenticated as (set by `bearer_claims` and by the
# deny-by-default middleware of shared/access.py), so a refusal can be recorded with who was refused.
CLAIMS = web.RequestKey("claims", Claims)
READY_CHECK: web.AppKey[ReadyCheck] = web.AppKey("ready_check", ReadyCheck)  # type: ignore[arg-type]


def json_error(status: int, code: str, message: str, field: str | None = None) -> web.Response:
    """The one error shape of every Relais API: `{"error": {"code", "message", "field"}}`."""
    return typed_json(ErrorBody(ErrorDetail(code, message, field)), ErrorBody, status)


@web.middleware
async def error_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Turn aiohttp's plain-text HTTP errors (404, 405, 413…), refused bodies and, as a last resort,
    any unexpected exception (a JSON 500 without details; the exception is logged) into the JSON
    error shape."""
    try:
        return await handler(request)
    except AuthError as exc:
        return exc.response
    except BodyError as exc:
        return json_error(exc.status, exc.code, exc.message, None)
    except web.HTTPRequestEntityTooLarge as exc:
        return json_error(413, "body_too_large", f"the body is too large: {exc.text}", None)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        return json_error(exc.status, exc.reason.lower().replace(" ", "_"), exc.reason, None)
    except ConnectionResetError:
        raise  # the client left: nobody to answer
    except Exception:
        # The route's pattern, not the path: a path may carry a capability (a media link).
        resource = request.match_info.route.resource
        log.exception("request.failed", method=request.method, route=resource.canonical if resource else None)
        return json_error(500, "internal_error", "the server failed to handle this request", None)


async def _healthz(request: web.Request) -> web.Response:
    return typed_json({"status": "ok"}, Health)


async def _readyz(request: web.Request) -> web.Response:
    checks = await request.app[READY_CHECK]()
    ready = all(checks.values())
    return typed_json({"ready": ready, "checks": checks}, Readiness, 200 if ready else 503)


def add_health_routes(app: web.Application, ready_check: ReadyCheck) -> None:
    """`/healthz`: the process answers. `/readyz`: its bus and database are reachable."""
    app[READY_CHECK] = ready_check
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)


async def start_site(app: web.Application, host: str, port: int, port_variable: str) -> web.AppRunner:
    """Start serving, or exit with one line naming the variable to change if the port is taken.
    Slow clients are cut off: headers and bodies must arrive within `ReadBounds`."""
    if error_middleware not in app.middlewares:  # every service answers errors in the JSON shape
        app.middlewares.insert(0, error_middleware)
    bounds = ReadBounds.from_env()
    app.middlewares.insert(0, bounded_body(bounds.body_seconds))
    runner = web.AppRunner(app, access_log=None, keepalive_timeout=bounds.header_seconds)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        if exc.errno == errno.EADDRINUSE:
            print(f"port {port} is in use; set {port_variable} to a free port", file=sys.stderr)
            raise SystemExit(2) from None
        raise
    return runner


def run_until_stopped(
    main: Callable[[asyncio.Event], Awaitable[None]],
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None,
) -> None:
    """Run `main(stop)` until SIGINT or SIGTERM sets `stop`. Every service starts here: its files
    (databases, media, keys) are made owner-only before any is created. `loop_factory`: another
    event loop (the dispatcher's uvloop), the standard one by default."""
    keep_files_private(config.data_dir())

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    with asyncio.Runner(loop_factory=loop_factory) as loop_runner:
        loop_runner.run(runner())


class AuthError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.response = json_error(status, code, message, "Authorization")


def bearer_claims(request: web.Request, public_key: Ed25519PublicKey, roles: tuple[str, ...]) -> Claims:
    """Check the `Authorization: Bearer` token; raise `AuthError` (401/403, JSON body) otherwise."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError(401, "unauthenticated", "send Authorization: Bearer <token>")
    try:
        claims = verify_token(public_key, token.strip())
    except TokenError as exc:
        raise AuthError(401, "invalid_token", str(exc)) from None
    request[CLAIMS] = claims  # also for a refused revoked token: its id goes to the audit
    is_revoked = request.app.get(REVOCATIONS)
    if is_revoked is not None and is_revoked(claims.token_id):
        raise AuthError(401, "revoked_token", "this token has been revoked; ask the hub team for a new one")
    if claims.role not in roles:
        raise AuthError(403, "forbidden", f"role {claims.role!r} may not do this; needs {' or '.join(roles)}")
    return claims
