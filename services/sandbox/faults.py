"""Per-account fault modes: the seam where tests and the demo make a network misbehave.

`POST /_sandbox/faults` with `{"network", "account", "mode", "seconds"?, "times"?, "on"?}` arms a fault
for the next `times` posting requests of that account (`times: 0` keeps it until cleared);
`GET /_sandbox/faults` lists the armed ones and `DELETE /_sandbox/faults` disarms them all.
`on` says which requests the fault is for: `post` (the default: posting and uploads) or
`read_comments` (the read API of what people send the account: Mastodon's notifications) or
`read_engagement` (the read API of a post's figures: likes, shares, views), so that a dispatcher
polling its pages never takes a fault a test armed for a post, nor the reverse. Only the modes that
precede creation (`READ_MODES`) apply to reads.

| mode | what the posting endpoint does |
|---|---|
| `server_error` | answers a 5xx in the network's error shape (503; a PDS's 500 InternalServerError) |
| `rate_limit` | answers 429 with the network's rate-limit headers, resetting after `seconds` (60) |
| `expired_token` | answers as the network does for an expired or revoked token |
| `blocked` | answers as the network does for an account blocked by policy (Facebook's code 368) |
| `invalid_content` | answers as the network does for content it refuses (a validation error) |
| `timeout` | waits `seconds` (30) without creating anything, then answers a 5xx |
| `slow` | waits `seconds` before handling the request normally |
| `timeout_after_create` | stores the post, then waits `seconds` (30) before answering |
| `disconnect_after_create` | stores the post, then drops the connection without answering |

Each emulator only asks `take()` on its posting endpoint and renders the fault through its
`Dialect`, so every network fails in its own documented way. A fault armed for `account` `*`
applies to every account of the network (an outage of the whole network).
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass, replace
from typing import Any, Protocol

from aiohttp import web

from shared.networks import NETWORKS

from .common import RATES, RateState

__all__ = [
    "FAULTS",
    "MODES",
    "READ_MODES",
    "TARGETS",
    "Dialect",
    "Fault",
    "FaultBook",
    "add_routes",
    "after_create",
    "before_create",
    "read_fault",
]

MODES = frozenset(
    {
        "server_error",
        "rate_limit",
        "expired_token",
        "blocked",
        "invalid_content",
        "slow",
        "timeout",
        "timeout_after_create",
        "disconnect_after_create",
    }
)
# A read creates nothing: what a fault does after creating has no meaning there.
READ_MODES = frozenset({"server_error", "rate_limit", "expired_token", "blocked", "slow", "timeout"})
TARGETS = ("post", "read_comments", "read_engagement")  # which requests a fault is armed for (`Fault.on`)


@dataclass(frozen=True)
class Fault:
    network: str
    account: str
    mode: str
    seconds: float = 0.0
    times: int = 1
    on: str = "post"


class Dialect(Protocol):
    """How one network answers each fault, in its own documented shapes."""

    rate_limit: tuple[int, int]  # (limit, window in seconds) reported while throttled

    def server_error(self) -> web.Response: ...

    def rate_limited(self, state: RateState) -> web.Response: ...

    def expired_token(self) -> web.Response: ...

    def blocked(self) -> web.Response: ...

    def invalid_content(self) -> web.Response: ...


class FaultBook:
    """The armed faults, in memory: a restarted sandbox starts well-behaved."""

    def __init__(self) -> None:
        self._faults: dict[tuple[str, str, str], Fault] = {}

    def put(self, fault: Fault) -> None:
        self._faults[(fault.network, fault.account, fault.on)] = fault

    def take(
        self, network: str, account: str, *, modes: frozenset[str] = MODES, on: str = "post"
    ) -> Fault | None:
        """The fault armed for `account` (or for every account) on these requests (`on`), used
        once; one whose mode is not in `modes` stays armed for the request it is meant for (an
        upload leaves the post's)."""
        fault = self._faults.get((network, account, on))
        if fault is None:
            account = "*"
            fault = self._faults.get((network, account, on))
        if fault is None or fault.mode not in modes:
            return None
        if fault.times == 1:
            del self._faults[(network, account, on)]
        elif fault.times > 1:
            self._faults[(network, account, on)] = replace(fault, times=fault.times - 1)
        return fault

    def listing(self) -> list[dict[str, Any]]:
        return [asdict(fault) for fault in self._faults.values()]

    def clear(self) -> int:
        count = len(self._faults)
        self._faults.clear()
        return count


FAULTS = web.AppKey("sandbox_faults", FaultBook)


async def before_create(request: web.Request, fault: Fault | None, dialect: Dialect) -> web.Response | None:
    """The response that replaces normal handling, if the fault calls for one."""
    if fault is None:
        return None
    if fault.mode == "server_error":
        return dialect.server_error()
    if fault.mode == "rate_limit":
        limit, _window = dialect.rate_limit
        return dialect.rate_limited(request.app[RATES].throttled(limit=limit, seconds=fault.seconds or 60))
    if fault.mode == "expired_token":
        return dialect.expired_token()
    if fault.mode == "blocked":
        return dialect.blocked()
    if fault.mode == "invalid_content":
        return dialect.invalid_content()
    if fault.mode == "timeout":
        await asyncio.sleep(fault.seconds or 30)
        return dialect.server_error()
    if fault.mode == "slow":
        await asyncio.sleep(fault.seconds)
    return None


async def read_fault(
    request: web.Request, dialect: Dialect, network: str, account: str, *, on: str = "read_comments"
) -> web.Response | None:
    """What a read of the account's incoming items (`on: read_comments`) or of a post's figures
    (`on: read_engagement`) answers instead, if a fault is armed for it: the one path every
    emulator's read API takes its faults through."""
    fault = request.app[FAULTS].take(network, account, modes=READ_MODES, on=on)
    return await before_create(request, fault, dialect)


async def after_create(request: web.Request, fault: Fault | None) -> None:
    """Misbehave after the post is stored: the client cannot know it was created."""
    if fault is None:
        return
    if fault.mode == "timeout_after_create":
        await asyncio.sleep(fault.seconds or 30)
    elif fault.mode == "disconnect_after_create":
        if request.transport is not None:
            request.transport.close()
        # Nothing may be written after the drop; the handler is simply abandoned.
        raise asyncio.CancelledError


def _parse_fault(data: dict[str, Any]) -> Fault | str:
    network, account, mode = data.get("network"), data.get("account"), data.get("mode")
    if network not in NETWORKS:
        return f"network must be one of {sorted(NETWORKS)}"
    if not isinstance(account, str) or not account:
        return "account is required"
    if mode not in MODES:
        return f"mode must be one of {sorted(MODES)}"
    seconds, times, on = data.get("seconds", 0), data.get("times", 1), data.get("on", "post")
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
        return "seconds must be a non-negative number"
    if not isinstance(times, int) or isinstance(times, bool) or times < 0:
        return "times must be a non-negative integer (0 keeps the fault until cleared)"
    if on not in TARGETS:
        return f"on must be one of {list(TARGETS)}"
    if on != "post" and mode not in READ_MODES:
        return f"a fault on {on} must be one of {sorted(READ_MODES)}"
    return Fault(str(network), account, str(mode), float(seconds), times, str(on))


async def _arm(request: web.Request) -> web.Response:
    try:
        data = await request.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return web.json_response({"error": "send a JSON object"}, status=400)
    fault = _parse_fault(data)
    if isinstance(fault, str):
        return web.json_response({"error": fault}, status=400)
    request.app[FAULTS].put(fault)
    return web.json_response({"fault": asdict(fault)}, status=201)


async def _list(request: web.Request) -> web.Response:
    return web.json_response({"faults": request.app[FAULTS].listing()})


async def _clear(request: web.Request) -> web.Response:
    return web.json_response({"cleared": request.app[FAULTS].clear()})


def add_routes(app: web.Application) -> None:
    app.router.add_post("/_sandbox/faults", _arm)
    app.router.add_get("/_sandbox/faults", _list)
    app.router.add_delete("/_sandbox/faults", _clear)
