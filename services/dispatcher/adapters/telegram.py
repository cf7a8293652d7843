"""Telegram adapter: channel posts through the Bot API (`sendMessage`, `sendPhoto`).

Follows core.telegram.org/bots/api: "Making requests" (`POST /bot<token>/<method>` with a JSON
body; every answer is `{"ok": true, "result": …}` or `{"ok": false, "error_code",
"description", "parameters": {"retry_after"}}`), "sendMessage" (`chat_id` as `@channelusername`
or a numeric id, `text`, `reply_parameters`), "sendPhoto" (`photo` as an HTTP URL Telegram
fetches, `caption`), "Message" (`message_id`, `date`, `chat`) and the Bots FAQ on limits (about
20 messages a minute in one channel, 30 a second overall).

The Bot API cannot read a channel's history, so there is no reconciliation: an unknown outcome
stays `unconfirmed` for a person to check the channel and decide at the hub. The token sits in
the URL path as the API requires: errors quote only the host, never the URL.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import aiohttp

from .base import DeliveryError, Media, PageAccount, Publication, RateHint, RateObserver, UnknownOutcome
from .transport import (
    DEFAULT_TIMEOUT,
    Reply,
    fallback_kind,
    maybe_created,
    redact,
    report,
    send,
    thread_failure,
)

__all__ = ["TelegramAdapter"]


def _chat(account: PageAccount) -> str:
    handle = account.handle
    return handle if handle.startswith("@") or handle.lstrip("-").isdigit() else f"@{handle}"


def _error(reply: Reply, secrets: Sequence[str]) -> DeliveryError:
    body = reply.json_object()
    said = redact(str(body.get("description") or f"HTTP {reply.status}"), secrets)
    code = str(body.get("error_code") or reply.status)
    status = int(body["error_code"]) if isinstance(body.get("error_code"), int) else reply.status
    if status == 401 or (status == 404 and "Not Found" in said):
        # The Bot API answers 404 for a token it does not know at all.
        return DeliveryError(
            f"Telegram refused the bot token ({said}): reconnect the page", network_code=code, kind="auth"
        )
    if status == 403:
        return DeliveryError(
            f"Telegram refused the post ({said}): add the bot to the channel as an administrator "
            "allowed to post, then retry",
            network_code=code,
            kind="auth",
        )
    if status == 429:
        parameters = body.get("parameters")
        wait = parameters.get("retry_after") if isinstance(parameters, dict) else None
        retry_after = float(wait) if isinstance(wait, int | float) else None
        return DeliveryError(
            f"Telegram rate limit reached for this channel ({said})",
            network_code=code,
            kind="transient",
            retry_after=retry_after,
            throttled=True,
        )
    if status == 400 and "chat not found" in said.lower():
        return DeliveryError(
            f"Telegram does not know this channel ({said}): check the page's channel name",
            network_code=code,
            kind="permanent",
        )
    kind = fallback_kind(status)
    if kind == "transient":
        return DeliveryError(
            f"Telegram is unavailable ({said}); retry later",
            network_code=code,
            kind=kind,
            maybe_created=maybe_created(status),
        )
    return DeliveryError(f"Telegram refused the post: {said}", network_code=code, kind=kind)


class TelegramAdapter:
    network = "telegram"
    can_read_back = False

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
        observer: RateObserver | None = None,
    ) -> None:
        self._session = session
        self._timeout = timeout
        self._observer = observer

    async def publish(
        self,
        account: PageAccount,
        parts: Sequence[str],
        *,
        idempotency_key: str,
        link: str | None = None,
        facets: Sequence[Sequence[dict[str, object]] | None] | None = None,
        media: Sequence[Media] = (),
        done: Sequence[str] = (),
    ) -> Publication:
        """Send each part as a message (the first with the photo, if any), replies chained."""
        token = account.credentials.get("token")
        if not token:
            raise DeliveryError(
                "no Telegram bot token is stored for this page: connect it", network_code=None, kind="auth"
            )
        if not parts:
            raise DeliveryError(
                "nothing to publish: the variant has no parts", network_code=None, kind="permanent"
            )
        photo = next((m for m in media if m.url and m.kind == "image"), None)
        ids: list[str] = list(done[: len(parts)])
        username = account.handle.lstrip("@")
        for index in range(len(ids), len(parts)):
            body: dict[str, Any] = {"chat_id": _chat(account)}
            method = "sendMessage"
            if index == 0 and photo is not None:
                method, body["photo"], body["caption"] = "sendPhoto", photo.url, parts[index]
            else:
                body["text"] = parts[index]
            part_facets = facets[index] if facets is not None and index < len(facets) else None
            if part_facets:
                body["caption_entities" if method == "sendPhoto" else "entities"] = list(part_facets)
            if ids:
                body["reply_parameters"] = {"message_id": int(ids[-1])}
            try:
                message = await self._send(account, token, method, body)
            except (DeliveryError, UnknownOutcome) as error:
                raise thread_failure(error, tuple(ids), len(parts)) from None
            ids.append(str(message["message_id"]))
            chat = message.get("chat")
            if isinstance(chat, dict) and isinstance(chat.get("username"), str):
                username = chat["username"]
        return Publication(ids[0], f"https://t.me/{username}/{ids[0]}", tuple(ids))

    async def _send(
        self, account: PageAccount, token: str, method: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        reply = await send(
            self._session,
            "POST",
            f"{account.base_url.rstrip('/')}/bot{token}/{method}",
            label="Telegram",
            client_timeout=self._timeout,
            json_body=body,
        )
        answer = reply.json_object()
        if answer.get("error_code") == 429:
            wait = (answer.get("parameters") or {}).get("retry_after")
            if isinstance(wait, int | float):
                report(self._observer, account, [RateHint("page", None, 0, time.time() + float(wait))])
        if not reply.ok or answer.get("ok") is not True:
            raise _error(reply, [token])
        result = answer.get("result")
        if not isinstance(result, dict) or not isinstance(result.get("message_id"), int):
            raise UnknownOutcome("Telegram accepted the message but did not say its id: check the channel")
        return result

    async def find(
        self, account: PageAccount, parts: Sequence[str], *, idempotency_key: str, since: float
    ) -> Publication | None:
        raise NotImplementedError("the Bot API cannot read a channel's history")
