"""One HTTP exchange with a network, and what its failures mean for delivery.

The line that matters is "was the request sent?": a connection that could not be opened means
nothing reached the network (safe to retry: transient `DeliveryError`); a timeout or a connection
lost once the request was on its way means the post may exist (`UnknownOutcome`), unless the
request was a read, which is always safe to repeat.

Messages never carry secrets: callers pass their credentials to `redact` before quoting anything
a network said, and the exceptions raised here only name the host.
"""

from __future__ import annotations

import io
import json
import time
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import msgspec

from .base import DeliveryError, ErrorKind, Media, PageAccount, RateHint, RateObserver, UnknownOutcome

__all__ = [
    "DEFAULT_TIMEOUT",
    "Reply",
    "fallback_kind",
    "header_float",
    "maybe_created",
    "multipart_body",
    "redact",
    "report",
    "seconds_until",
    "send",
    "status_error",
    "thread_failure",
]

DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=30, sock_connect=10)
_REDACTED = "[redacted]"
_MIN_SECRET_LENGTH = 4


@dataclass(frozen=True)
class Reply:
    """A network's answer: status, headers and raw body."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON, or None if it is not (msgspec: every answer of a fan-out is decoded)."""
        try:
            return msgspec.json.decode(self.body)
        except msgspec.DecodeError:
            return None

    def json_object(self) -> dict[str, Any]:
        value = self.json()
        return value if isinstance(value, dict) else {}

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every credential value replaced, for quoting a network's words safely."""
    for secret in sorted((s for s in secrets if len(s) >= _MIN_SECRET_LENGTH), key=len, reverse=True):
        text = text.replace(secret, _REDACTED)
    return text


def seconds_until(moment: float) -> float:
    """Seconds from now until a Unix time, never negative."""
    return max(moment - time.time(), 0.0)


def maybe_created(status: int) -> bool:
    """Whether an error status leaves the post's creation in doubt.

    A 503 (or 429) says the request was not processed; a 500, 502 or 504 may come from a gateway
    after the network did the work, so the dispatcher looks before it tries again.
    """
    return status >= 500 and status != 503


def header_float(headers: Mapping[str, str], name: str) -> float | None:
    try:
        return float(headers[name])
    except (KeyError, ValueError):
        return None


async def multipart_body(
    fields: Mapping[str, object], files: Sequence[tuple[str, Media, bytes]]
) -> tuple[bytes, str]:
    """A multipart/form-data body and its Content-Type: each field (non-text ones as JSON), then
    each file part as (field name, the medium it comes from, its bytes), named by the media id."""
    form = aiohttp.FormData()
    for name, value in fields.items():
        form.add_field(name, value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
    for name, item, data in files:
        # A stream, not bytes: aiohttp warns about big raw-bytes fields.
        form.add_field(name, io.BytesIO(data), filename=item.id or name, content_type=item.mime_type)
    payload = form()
    return await payload.as_bytes(), payload.content_type


def report(observer: RateObserver | None, account: PageAccount, hints: Iterable[RateHint]) -> None:
    """Hand what the rate-limit headers said to the dispatcher's buckets."""
    if observer is not None:
        for hint in hints:
            observer(account, hint)


def fallback_kind(status: int) -> ErrorKind:
    """The kind of an error the network did not explain in its own terms."""
    if status in (408, 425, 429) or status >= 500:
        return "transient"
    if status == 401:
        return "auth"
    return "permanent"


def status_error(
    label: str, status: int, said: str, code: str, *, what: str = "the post", unavailable: str | None = None
) -> DeliveryError:
    """An error the network did not explain in its own terms, told by its HTTP status alone.

    `label` refused `what`, or `unavailable` (the label by default: "the Mastodon instance") is
    unavailable, which a 500, 502 or 504 leaves in doubt (`maybe_created`).
    """
    kind = fallback_kind(status)
    if kind == "transient":
        return DeliveryError(
            f"{unavailable or label} is unavailable ({said}); retry later",
            network_code=code,
            kind=kind,
            maybe_created=maybe_created(status),
        )
    return DeliveryError(f"{label} refused {what}: {said}", network_code=code, kind=kind)


async def send(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    label: str,
    client_timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
    read_only: bool = False,
    headers: Mapping[str, str] | None = None,
    json_body: Any = None,
    form: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    raw: bytes | None = None,
    multipart: tuple[bytes, str] | None = None,
) -> Reply:
    """Send one request; map transport failures to `DeliveryError` or `UnknownOutcome`.

    `multipart` is a body and its Content-Type, as `multipart_body` makes them.
    """
    if multipart is not None:
        raw, headers = multipart[0], {**(headers or {}), "Content-Type": multipart[1]}
    body: Any = io.BytesIO(raw) if raw is not None else None
    if form is not None:
        # Encoded here as aiohttp's FormData would (UTF-8, `+` for spaces), without its per-request
        # multipart writer: a fan-out sends one such form per Facebook page.
        body = urllib.parse.urlencode(form, doseq=True).encode()
        headers = {**(headers or {}), "Content-Type": "application/x-www-form-urlencoded"}
    try:
        async with session.request(
            method,
            url,
            headers=headers,
            json=json_body,
            # `raw` as a stream: aiohttp reads large bodies (videos, photos) without blocking the loop.
            data=body,
            params=params,
            timeout=client_timeout,
            allow_redirects=False,
        ) as response:
            return Reply(response.status, response.headers, await response.read())
    except (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError):
        message = f"the {label} API address configured for this page is not a valid URL"
        raise DeliveryError(message, network_code=None, kind="permanent") from None
    except aiohttp.ConnectionTimeoutError:
        message = f"{label} could not be reached (connecting timed out); nothing was sent, retry later"
        raise DeliveryError(message, network_code=None, kind="transient") from None
    except aiohttp.ClientConnectorError as error:
        reason = error.os_error.strerror or type(error.os_error).__name__
        message = f"{label} could not be reached at {error.host}:{error.port} ({reason}); nothing was sent"
        raise DeliveryError(message, network_code=None, kind="transient") from None
    except (TimeoutError, aiohttp.ClientError) as error:
        what = "did not answer in time" if isinstance(error, TimeoutError) else "dropped the connection"
        if read_only:
            raise DeliveryError(f"{label} {what}; retry later", network_code=None, kind="transient") from None
        raise UnknownOutcome(
            f"{label} {what} after the request was sent: the post may or may not exist; "
            "check the page before trying again"
        ) from None


def thread_failure(
    error: DeliveryError | UnknownOutcome, published: tuple[str, ...], total: int
) -> DeliveryError | UnknownOutcome:
    """`error`, noting which parts of a thread were already published before it."""
    if not published:
        return error
    note = f" ({len(published)} of {total} parts were already published: {', '.join(published)})"
    if isinstance(error, UnknownOutcome):
        return UnknownOutcome(error.message + note, part_ids=published)
    return DeliveryError(
        error.message + note,
        network_code=error.network_code,
        kind=error.kind,
        retry_after=error.retry_after,
        part_ids=published,
        throttled=error.throttled,
        scope=error.scope,
        maybe_created=error.maybe_created,
    )
