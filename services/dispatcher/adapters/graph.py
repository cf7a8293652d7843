"""The Graph API that Facebook, Instagram and Threads share: calls, usage headers and errors.

Follows developers.facebook.com, Graph API › Guides › "Handling Errors" (codes and subcodes and
what to do about each) and Overview › "Rate limits" (`X-Page-Usage`, `X-App-Usage`,
`X-Business-Use-Case-Usage` with `estimated_time_to_regain_access` in minutes). Each of the three
adapters subclasses `GraphAdapter` and keeps only its own endpoints.

Reads send the token as a bearer header and the fields as the query; writes send both as a form
body. The token is never in a URL, so no proxy or access log records it.

A post's figures (`read_engagement`, issue #15) come partly from the insights edge the three share
(`GET /{object-id}/insights?metric=…` → `data[]` of `{"name", "values": [{"value"}]}`, or a
`total_value` for metrics totalled over a period): a metric the answer leaves out (Instagram: "an
empty data set instead of 0" while data is unavailable) is None. A post the network no longer shows
(code 100, subcode 33) is a permanent refusal worded for the post. Throttling: the Business Use Case
codes (80001 Pages, 80002 Instagram) are rate limits like 4, 17 and 32, with their
`estimated_time_to_regain_access`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any, ClassVar
from urllib.parse import quote

import aiohttp

from .base import DeliveryError, ErrorKind, PageAccount, RateHint, RateObserver, Scope
from .figures import count
from .skeleton import Adapter
from .transport import DEFAULT_TIMEOUT, Reply, fallback_kind, maybe_created, redact

__all__ = ["DEFAULT_VERSION", "GraphAdapter", "graph_error", "insight_values", "usage_hints"]

DEFAULT_VERSION = "v23.0"
_AUTH_CODES = frozenset({102, 104, 190, 10}) | frozenset(range(200, 300))
# 9: Instagram's publishing limit; 80001/80002: the Pages and Instagram Business Use Case limits.
_THROTTLE_CODES = frozenset({4, 9, 17, 32, 341, 613, 80001, 80002})
_TRANSIENT_CODES = _THROTTLE_CODES | {1, 2, 368}
# Messenger Platform › Send API errors: "(#10) This message is sent outside of allowed window".
_OUTSIDE_WINDOW = 2018278
# Graph API › "Handling Errors": an object that does not exist or the token may not see (code 100).
_NO_SUCH_OBJECT = 33
_SUBCODES = {
    458: "the app was removed from the account",
    459: "the account needs to log in to Facebook to fix a checkpoint",
    460: "the password was changed",
    463: "the token expired",
    464: "the account is not confirmed",
    467: "the token is invalid",
}


def _regain_seconds(reply: Reply) -> float | None:
    """When Facebook says the page or app may call again, from its usage headers."""
    minutes: list[float] = []
    for header in ("X-Page-Usage", "X-App-Usage", "X-Business-Use-Case-Usage"):
        try:
            usage = json.loads(reply.headers.get(header, ""))
        except json.JSONDecodeError:
            continue
        entries = (
            [entry for values in usage.values() for entry in values]
            if header.startswith("X-Business")
            else [usage]
        )
        minutes += [
            float(entry["estimated_time_to_regain_access"])
            for entry in entries
            if isinstance(entry, dict)
            and isinstance(entry.get("estimated_time_to_regain_access"), int | float)
        ]
    if minutes:
        return max(minutes) * 60
    try:
        return float(reply.headers["Retry-After"])
    except (KeyError, ValueError):
        return None


def usage_hints(reply: Reply) -> list[RateHint]:
    """Graph usage headers are percentages: only a full one (or a regain time) is a hint."""
    hints = []
    headers: tuple[tuple[Scope, str], ...] = (("page", "X-Page-Usage"), ("app", "X-App-Usage"))
    for scope, header in headers:
        try:
            usage = json.loads(reply.headers.get(header, ""))
        except json.JSONDecodeError:
            continue
        if not isinstance(usage, dict):
            continue
        regain = usage.get("estimated_time_to_regain_access")
        percent = max(
            (
                float(v)
                for k, v in usage.items()
                if k != "estimated_time_to_regain_access" and isinstance(v, int | float)
            ),
            default=0.0,
        )
        if percent >= 100 or (isinstance(regain, int | float) and regain > 0):
            reset = time.time() + 60 * float(regain if isinstance(regain, int | float) else 1)
            hints.append(RateHint(scope, None, 0, reset))
    return hints


def graph_error(reply: Reply, secrets: Sequence[str], label: str) -> DeliveryError:
    """A Graph API error (Facebook, Instagram, Threads) in plain words, with its kind."""
    error = reply.json_object().get("error")
    error = error if isinstance(error, dict) else {}
    said = redact(str(error.get("message") or f"HTTP {reply.status}"), secrets)
    code_value = error.get("code")
    code = code_value if isinstance(code_value, int) else None
    network_code = str(code) if code is not None else str(reply.status)
    subcode_value = error.get("error_subcode")
    if code == 10 and subcode_value == _OUTSIDE_WINDOW:
        return DeliveryError(
            f"{label} lets a page answer a private message only within 24 hours of the person's last "
            "message, and that window has closed: answer by another channel, or wait for the person "
            "to write again",
            network_code=f"{code}/{subcode_value}",
            kind="permanent",
        )
    if code == 100 and subcode_value == _NO_SUCH_OBJECT:
        return DeliveryError(
            f"{label} no longer shows what this answers (deleted, hidden, or not the page's): {said}",
            network_code=f"{code}/{subcode_value}",
            kind="permanent",
        )
    if code in _AUTH_CODES:
        subcode = error.get("error_subcode")
        why = _SUBCODES.get(subcode, "") if isinstance(subcode, int) else ""
        reason = f"{why}: " if why else ""
        return DeliveryError(
            f"{label} refused the page's token or permissions ({reason}{said}): reconnect the page",
            network_code=network_code,
            kind="auth",
        )
    if code == 368:
        return DeliveryError(
            f"{label} has temporarily blocked this page from posting ({said}); try again later",
            network_code=network_code,
            kind="transient",
            retry_after=_regain_seconds(reply),
        )
    if code in _THROTTLE_CODES:
        retry_after = _regain_seconds(reply)
        wait = f"; {label} allows more in {retry_after:.0f} s" if retry_after is not None else ""
        app = code == 4 or ("X-App-Usage" in reply.headers and "X-Page-Usage" not in reply.headers)
        return DeliveryError(
            f"{label} rate limit reached ({said}){wait}",
            network_code=network_code,
            kind="transient",
            retry_after=retry_after,
            throttled=True,
            scope="app" if app else "page",
        )
    if code == 506:
        return DeliveryError(
            f"{label} refused a duplicate: the page's latest post has this exact text",
            network_code=network_code,
            kind="permanent",
        )
    kind: ErrorKind = (
        "transient"
        if code in _TRANSIENT_CODES or error.get("is_transient") is True
        else fallback_kind(reply.status)
    )
    if kind == "transient":
        return DeliveryError(
            f"{label} is unavailable ({said}); retry later",
            network_code=network_code,
            kind=kind,
            maybe_created=maybe_created(reply.status),
        )
    return DeliveryError(f"{label} refused the post: {said}", network_code=network_code, kind=kind)


def insight_values(body: dict[str, Any]) -> dict[str, int | None]:
    """The insights edge's answer as metric name → count (lifetime: the last value given)."""
    values: dict[str, int | None] = {}
    for entry in body.get("data") or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            continue
        listed = entry.get("values")
        if isinstance(listed, list) and listed and isinstance(listed[-1], dict):
            values[entry["name"]] = count(listed[-1].get("value"))
        elif isinstance(entry.get("total_value"), dict):
            values[entry["name"]] = count(entry["total_value"].get("value"))
    return values


class GraphAdapter(Adapter):
    """An adapter speaking the Graph API under `/{version}/` of the page's base URL."""

    default_version: ClassVar[str] = DEFAULT_VERSION
    default_poll_interval: ClassVar[float] = 1.0  # seconds between reads of media still processing

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
        version: str | None = None,
        observer: RateObserver | None = None,
        poll_interval: float | None = None,
    ) -> None:
        super().__init__(session, timeout=timeout, observer=observer)
        self._version = self.default_version if version is None else version
        self._poll_interval = self.default_poll_interval if poll_interval is None else poll_interval

    def _graph_url(self, account: PageAccount, path: str) -> str:
        version = f"/{self._version}" if self._version else ""
        return f"{account.base_url.rstrip('/')}{version}/{path}"

    def _hints(self, reply: Reply) -> list[RateHint]:
        return usage_hints(reply)

    def _error(self, reply: Reply, secrets: Sequence[str]) -> DeliveryError:
        return graph_error(reply, secrets, self.label)

    async def _hide(self, account: PageAccount, item_id: str, field: str) -> None:
        """Hide a comment with the Comment node's update (`POST /{comment-id}` with `field=true` →
        `{"success": true}`). Hiding a hidden comment answers success again, so the call is safe to
        make again: a timeout is only a failed call (`read_only`), never an unknown outcome."""
        token = self._token(account)
        reply = await self._request(
            account,
            "POST",
            self._graph_url(account, _node_path(item_id)),
            secrets=[token],
            read_only=True,
            form={field: "true", "access_token": token},
        )
        if reply.json_object().get("success") is not True:
            raise DeliveryError(
                f"{self.label} did not confirm the comment was hidden; try again",
                network_code=None,
                kind="transient",
            )

    async def _call(
        self, account: PageAccount, token: str, method: str, node: str, fields: dict[str, str], edge: str = ""
    ) -> dict[str, Any]:
        """One Graph call on a node (or one of its edges): a read (GET) or a write, answered with its
        JSON object. The node's id stays one path segment, whatever it holds (ids come from the
        networks, and a webhook's body too: none may reach another endpoint or ask for other fields)."""
        path = _node_path(node, edge)
        reading = method == "GET"
        reply = await self._request(
            account,
            method,
            self._graph_url(account, path),
            secrets=[token],
            read_only=reading,
            headers={"Authorization": f"Bearer {token}"} if reading else None,
            params=fields if reading else None,
            form=None if reading else {**fields, "access_token": token},
        )
        return reply.json_object()

    async def _read_figures(
        self, account: PageAccount, token: str, object_id: str, fields: dict[str, str], edge: str = ""
    ) -> dict[str, Any]:
        """One read of a post's figures (its node, or its `edge`); a post the network no longer shows
        is a permanent refusal. The id stays one path segment, whatever it holds."""
        try:
            return await self._call(account, token, "GET", object_id, fields, edge=edge)
        except DeliveryError as error:
            if error.network_code != f"100/{_NO_SUCH_OBJECT}":
                raise
            raise DeliveryError(
                f"{self.label} no longer shows the post (deleted, or not the page's): its figures cannot "
                "be read",
                network_code=error.network_code,
                kind="permanent",
            ) from None

    async def _insights(
        self, account: PageAccount, token: str, object_id: str, metrics: Sequence[str]
    ) -> dict[str, int | None]:
        """The object's lifetime `metrics` from its insights edge (those left out are absent)."""
        body = await self._read_figures(account, token, object_id, {"metric": ",".join(metrics)}, "insights")
        return insight_values(body)


def _node_path(node: str, edge: str = "") -> str:
    return quote(node, safe="") + (f"/{edge}" if edge else "")
