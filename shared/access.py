"""Who may reach an HTTP route, and the record of everyone who was refused. Every service's app.

- **Deny by default** (`access_middlewares`): a route answers only a request that brought a valid
  credential (what the app's `authenticate` accepts: a bearer token, the hub's session cookie),
  unless the route is on the app's short, explicit public list (`PublicRoutes`: health, readiness,
  sign-in, static assets, OpenAPI documents…). A route added without thinking is therefore closed,
  and `tests/test_permissions.py` fails until it has a row in the permission table. Roles and
  territory are then checked by each handler (`bearer_claims`, the hub's scope rules).
- **Every refusal is evidence**: each 401 and 403 (and each refusal answered otherwise, such as a
  redirect to the sign-in page or a 404 hiding another region's post, which the handler notes with
  `note_refusal`) is handed to the app's `RecordRefusal`, with the method, route, path, address,
  token id, subject and role when known, never the token itself. A budget per address and in all
  per window (`RefusalBudget`) keeps a flood from filling the audit; the first refusal over it is
  recorded once, marked `capped`, and the rest of that window is dropped.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
import structlog
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from shared.tokens import Claims
from shared.web import CLAIMS, AuthError, ReadyCheck, add_health_routes, error_middleware

__all__ = [
    "AUTHENTICATE",
    "HEALTH_ROUTES",
    "PUBLIC_ROUTES",
    "RECORD_REFUSAL",
    "REFUSAL_BUDGET",
    "SIGN_IN_REDIRECT",
    "Authenticate",
    "PublicRoutes",
    "RecordRefusal",
    "Refusal",
    "RefusalBudget",
    "access_middlewares",
    "audited_elsewhere",
    "health_app",
    "install_access",
    "note_refusal",
    "route_key",
    "token_id_of",
]

log = structlog.get_logger("relais.access")

# (method, route pattern as aiohttp names it: `/v1/posts/{post_id}`, `/static` for a static prefix).
RouteKey = tuple[str, str]
PublicRoutes = frozenset[RouteKey]
# The request's principal, or None when it brought no credential; raises AuthError for a bad one.
Authenticate = Callable[[web.Request], Claims | None]
# What the app answers a request without credentials instead of a 401 (the hub's pages: a redirect
# to the sign-in page), or None for the plain JSON 401.
SignInRedirect = Callable[[web.Request], web.StreamResponse | None]

PUBLIC_ROUTES: web.AppKey[PublicRoutes] = web.AppKey("public_routes", frozenset)
AUTHENTICATE: web.AppKey[Authenticate] = web.AppKey("authenticate", Callable)  # type: ignore[arg-type]
SIGN_IN_REDIRECT: web.AppKey[SignInRedirect] = web.AppKey("sign_in_redirect", Callable)  # type: ignore[arg-type]
# What the handler said about the refusal it answered (see note_refusal).
_NOTED: web.RequestKey[dict[str, Any]] = web.RequestKey("refusal", dict)


@dataclass(frozen=True)
class Refusal:
    """One refused request, as the audit keeps it (the token itself is never part of it)."""

    status: int
    code: str
    reason: str
    method: str
    route: str
    path: str
    remote: str
    token_id: str
    subject: str
    role: str
    agency: str
    post_id: str
    capped: bool = False  # the first refusal over the address's budget: the next ones are dropped


CAPPED_REASON = "too many refusals this window (from this address, or in all): the next ones are not recorded"
RecordRefusal = Callable[[web.Request, Refusal], None]
RECORD_REFUSAL: web.AppKey[RecordRefusal] = web.AppKey("record_refusal", Callable)  # type: ignore[arg-type]


class RefusalBudget:
    """At most `per_window` refusals recorded per address per window, and `total_per_window` in
    all; the first one over either budget is recorded as the cap being hit, the rest are dropped.

    Addresses are counted as the socket sees them (`request.remote`), never from a header a client
    could vary. The total bounds a flood spread over many addresses; past `max_addresses` in one
    window, new addresses share one budget, so memory stays bounded too.
    """

    def __init__(
        self,
        per_window: int = 30,
        window_seconds: float = 60.0,
        total_per_window: int = 1000,
        max_addresses: int = 10_000,
    ) -> None:
        self.per_window, self.window = per_window, window_seconds
        self.total_per_window, self.max_addresses = total_per_window, max_addresses
        self._counts: dict[str, tuple[float, int]] = {}  # address → (window start, refusals seen)
        self._total: tuple[float, int] = (0.0, 0)

    def admit(self, address: str, now: float | None = None) -> str:
        """`record`, `cap` (record this one as the cap being hit) or `drop`."""
        now = time.monotonic() if now is None else now
        total = self._count(self._total, now)
        self._total = total
        if total[1] > self.total_per_window:
            return "cap" if total[1] == self.total_per_window + 1 else "drop"
        if address not in self._counts and len(self._counts) >= self.max_addresses:
            self._counts = {a: c for a, c in self._counts.items() if now - c[0] < self.window}
            if len(self._counts) >= self.max_addresses:
                address = "*"
        counted = self._counts[address] = self._count(self._counts.get(address), now)
        if counted[1] <= self.per_window:
            return "record"
        return "cap" if counted[1] == self.per_window + 1 else "drop"

    def _count(self, counted: tuple[float, int] | None, now: float) -> tuple[float, int]:
        """One more refusal in the counted window, or the first of a new one."""
        if counted is None or now - counted[0] >= self.window:
            return now, 1
        return counted[0], counted[1] + 1


REFUSAL_BUDGET: web.AppKey[RefusalBudget] = web.AppKey("refusal_budget", RefusalBudget)


def route_key(request: web.Request) -> RouteKey | None:
    """The matched route's (method, pattern); None when nothing matched (404/405 answer for it)."""
    resource = request.match_info.route.resource
    if resource is None:
        return None
    method = "GET" if request.method == "HEAD" else request.method  # aiohttp adds HEAD to each GET
    return method, resource.canonical


def note_refusal(
    request: web.Request,
    reason: str,
    *,
    claims: Claims | None = None,
    post_id: str = "",
    agency: str = "",
    status: int | None = None,
) -> None:
    """Say why this request is refused (and about which post or agency) before answering it; with
    `status`, the refusal is recorded even though the answer is not a 401/403 (a hiding 404)."""
    request[_NOTED] = {
        "reason": reason,
        "claims": claims,
        "post_id": post_id,
        "agency": agency,
        "status": status,
    }


def audited_elsewhere(request: web.Request) -> None:
    """This refusal already has its own audit entry (a failed sign-in is `login.failed`)."""
    request[_NOTED] = {"elsewhere": True}


def token_id_of(request: web.Request, key: Ed25519PublicKey) -> str:
    """The id of a bearer token the hub signed, even an expired one; '' for anything else (an id
    read from an unsigned token would be the attacker's words)."""
    token = request.headers.get("Authorization", "").partition(" ")[2].strip()
    if not token:
        return ""
    try:
        payload = jwt.decode(token, key, algorithms=["EdDSA"], options={"verify_exp": False})
    except jwt.InvalidTokenError:
        return ""
    return str(payload.get("jti", ""))


def _deny_by_default() -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        key = route_key(request)
        if key is None or key in request.app[PUBLIC_ROUTES]:
            return await handler(request)
        authenticate = request.app.get(AUTHENTICATE)
        claims = authenticate(request) if authenticate is not None else None
        if claims is None:
            redirect = request.app.get(SIGN_IN_REDIRECT)
            answer = redirect(request) if redirect is not None else None
            if answer is not None:
                note_refusal(request, "not signed in", status=401)
                return answer
            raise AuthError(401, "unauthenticated", "send Authorization: Bearer <token>, or sign in")
        request[CLAIMS] = claims
        return await handler(request)

    return middleware


def _error_of(response: web.StreamResponse) -> tuple[str, str]:
    """(code, message) of a JSON error answer, or its reason phrase."""
    body = getattr(response, "body", None)
    if isinstance(body, bytes) and response.content_type == "application/json" and len(body) < 4096:
        try:
            error = json.loads(body).get("error") or {}
            return str(error.get("code", "")), str(error.get("message", ""))
        except (ValueError, AttributeError):
            pass
    return response.reason.lower().replace(" ", "_"), response.reason


def _refusal_recorder(key_of: Callable[[web.Request], Ed25519PublicKey | None]) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPException as exc:  # a redirect or an error raised rather than returned
            _record(request, exc, key_of)
            raise
        _record(request, response, key_of)
        return response

    return middleware


def _record(
    request: web.Request,
    response: web.StreamResponse,
    key_of: Callable[[web.Request], Ed25519PublicKey | None],
) -> None:
    noted = request.get(_NOTED)
    if response.status not in (401, 403) and not (noted and noted.get("status")):
        return
    if noted and noted.get("elsewhere"):
        return
    sink = request.app.get(RECORD_REFUSAL)
    if sink is None:
        return
    verdict = request.app[REFUSAL_BUDGET].admit(request.remote or "unknown")
    if verdict == "drop":
        return
    noted = noted or {}
    claims: Claims | None = noted.get("claims") or request.get(CLAIMS)
    code, message = _error_of(response)
    key = key_of(request)
    token_id = claims.token_id if claims else (token_id_of(request, key) if key is not None else "")
    route = route_key(request)
    refusal = Refusal(
        status=noted.get("status") or response.status,
        code=code,
        reason=CAPPED_REASON if verdict == "cap" else (noted.get("reason") or message),
        method=request.method,
        route=route[1] if route else "",
        path=request.path,
        remote=request.remote or "",
        token_id=token_id,
        subject=claims.subject if claims else "",
        role=claims.role if claims else "",
        agency=noted.get("agency") or (claims.agency if claims and claims.agency else ""),
        post_id=noted.get("post_id") or request.match_info.get("post_id", ""),
        capped=verdict == "cap",
    )
    try:
        sink(request, refusal)
    except Exception:  # the refusal stands even if its record could not be written
        log.exception("refusal.not_recorded", path=request.path, status=refusal.status)
        return
    log.warning(
        "permission.denied.capped" if refusal.capped else "permission.denied",
        post_id=refusal.post_id,
        agency=refusal.agency,
        status=refusal.status,
        route=refusal.route,
        subject=refusal.subject,
        remote=refusal.remote,
    )


def access_middlewares(key_of: Callable[[web.Request], Ed25519PublicKey | None]) -> list[Middleware]:
    """Outermost first: the recorder sees the final answer (error_middleware's JSON), and the
    deny-by-default check runs before any handler."""
    return [_refusal_recorder(key_of), error_middleware, _deny_by_default()]


def install_access(
    app: web.Application,
    public: PublicRoutes,
    authenticate: Authenticate | None = None,
    record: RecordRefusal | None = None,
    budget: RefusalBudget | None = None,
) -> None:
    """Declare the app's public routes, how it authenticates, and where its refusals go. Without
    `authenticate`, every route that is not public answers 401 (the services with health routes
    only: a route added there later stays closed until someone decides otherwise)."""
    app[PUBLIC_ROUTES] = public
    if authenticate is not None:
        app[AUTHENTICATE] = authenticate
    if record is not None:
        app[RECORD_REFUSAL] = record
    app[REFUSAL_BUDGET] = budget or RefusalBudget()


HEALTH_ROUTES: PublicRoutes = frozenset({("GET", "/healthz"), ("GET", "/readyz")})


def health_app(ready: ReadyCheck) -> web.Application:
    """The HTTP side of a service with nothing but health routes (formatter, federation): deny by
    default all the same, so a route added later is closed until it is declared."""
    app = web.Application(middlewares=access_middlewares(lambda request: None))
    install_access(app, HEALTH_ROUTES)
    add_health_routes(app, ready)
    return app
