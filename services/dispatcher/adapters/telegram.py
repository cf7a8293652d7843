"""Telegram adapter: channel posts through the Bot API (`sendMessage`, `sendPhoto`, `sendVideo`,
`sendMediaGroup`).

Follows core.telegram.org/bots/api: "Making requests" (`POST /bot<token>/<method>` with a JSON
body, or multipart/form-data when uploading files; every answer is `{"ok": true, "result": …}` or
`{"ok": false, "error_code", "description", "parameters": {"retry_after"}}`), "Sending files"
(upload with multipart/form-data: photos up to 10 MB, other files up to 50 MB; or pass an HTTP
URL for Telegram to fetch), "sendMessage" (`chat_id` as `@channelusername` or a numeric id,
`text`, `entities`, `reply_parameters`), "sendPhoto" and "sendVideo" (`photo` / `video` as a file
or URL, `caption` of 0–1,024 characters, `caption_entities` JSON-serialized), "sendMediaGroup"
(`media`: a JSON array of 2–10 InputMediaPhoto / InputMediaVideo, files named
`attach://<file_attach_name>`, the album's caption on its first item; answers an array of
Messages), "Message" (`message_id`, `date`, `chat`) and the Bots FAQ on limits (about 20
messages a minute in one channel, 30 a second overall).

Answering people (issue #15): a person writes to the bot in a private chat; the inbox item's id is
`<chat_id>:<message_id>` and the chat is the conversation's root. The answer is "sendMessage" to that
chat with `reply_parameters.message_id` (the message answered) and comes back as the same shape of
id. The Bot API has no read-back of a chat either: `find_reply` raises `NotImplementedError`, and an
interrupted answer stays an unknown outcome for a person to check in the chat (the dispatcher must
not send it again on its own). A chat that never wrote to the bot (or was deleted), a message
answered that was deleted meanwhile and a person who blocked the bot are permanent refusals.

The Bot API cannot read a channel's history, so there is no reconciliation: an unknown outcome
stays `unconfirmed` for a person to check the channel and decide at the hub. A media call
publishes the post, so a lost answer is an unknown outcome too. The token sits in the URL path
as the API requires: errors quote only the host, never the URL.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, ClassVar

from shared.networks.facts import Capability

from .attachments import MediaRules, check_media
from .base import DeliveryError, Media, PageAccount, Publication, RateHint, UnknownOutcome
from .conversations import ReplyTarget
from .skeleton import Adapter, Outgoing
from .transport import (
    Reply,
    fallback_kind,
    maybe_created,
    multipart_body,
    redact,
    thread_failure,
)

__all__ = ["MAX_FILE_BYTES", "MAX_PHOTO_BYTES", "TelegramAdapter"]

MAX_PHOTO_BYTES = 10 * 1024 * 1024  # "Sending files": photos up to 10 MB
MAX_FILE_BYTES = 50 * 1024 * 1024  # other files up to 50 MB
_MAX_ALBUM = 10
_MEDIA_RULES = MediaRules(
    "Telegram",
    _MAX_ALBUM,
    max_image_bytes=MAX_PHOTO_BYTES,
    max_video_bytes=MAX_FILE_BYTES,
    url_suffices=True,
)
_FIELDS = {"image": "photo", "video": "video"}


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
    if status == 403 and "blocked by the user" in said.lower():
        return DeliveryError(
            f"The person blocked the bot ({said}): Telegram will not deliver the answer; answer by another "
            "channel",
            network_code=code,
            kind="permanent",
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
    if status == 400 and "message to be replied not found" in said.lower():
        return DeliveryError(
            f"Telegram no longer has the message this answers (deleted): {said}",
            network_code=code,
            kind="permanent",
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


def _message(result: Any) -> dict[str, Any]:
    """The sent Message (the first of an album's), which must say its id."""
    first = result[0] if isinstance(result, list) and result else result
    if not isinstance(first, dict) or not isinstance(first.get("message_id"), int):
        raise UnknownOutcome("Telegram accepted the message but did not say its id: check the channel")
    return first


class TelegramAdapter(Adapter):
    network = "telegram"
    label = "Telegram"
    can_read_back = False  # the Bot API cannot read a channel's history
    capabilities: ClassVar[frozenset[Capability]] = frozenset({"publish", "images", "video", "reply"})
    token_noun = "bot token"

    def _hints(self, reply: Reply) -> list[RateHint]:
        """A 429's `parameters.retry_after` (the Bot API sends no rate headers)."""
        answer = reply.json_object()
        wait = (answer.get("parameters") or {}).get("retry_after")
        if answer.get("error_code") == 429 and isinstance(wait, int | float):
            return [RateHint("page", None, 0, time.time() + float(wait))]
        return []

    def _error(self, reply: Reply, secrets: Sequence[str]) -> DeliveryError:
        return _error(reply, secrets)

    async def _publish(self, account: PageAccount, variant: Outgoing) -> Publication:
        """Send each part as a message (the first with the photo, if any), replies chained."""
        token = self._token(account)
        parts, media, done = variant.parts, variant.media, variant.done
        if not done:
            check_media(_MEDIA_RULES, media)  # before anything is sent: a refusal publishes nothing
        ids: list[str] = list(done[: len(parts)])
        username = account.handle.lstrip("@")
        for index in range(len(ids), len(parts)):
            part_facets = variant.facets_of(index)
            try:
                if index == 0 and media:
                    message = await self._send_media(account, token, parts[0], part_facets, media)
                else:
                    body: dict[str, Any] = {"chat_id": _chat(account), "text": parts[index]}
                    if part_facets:
                        body["entities"] = list(part_facets)
                    if ids:
                        body["reply_parameters"] = {"message_id": int(ids[-1])}
                    message = _message(await self._send(account, token, "sendMessage", body))
            except (DeliveryError, UnknownOutcome) as error:
                raise thread_failure(error, tuple(ids), len(parts)) from None
            ids.append(str(message["message_id"]))
            chat = message.get("chat")
            if isinstance(chat, dict) and isinstance(chat.get("username"), str):
                username = chat["username"]
        return Publication(ids[0], f"https://t.me/{username}/{ids[0]}", tuple(ids))

    async def reply(
        self, account: PageAccount, text: str, target: ReplyTarget, *, idempotency_key: str
    ) -> Publication:
        """Answer a person's message in their private chat with the bot (see the module)."""
        token = self._token(account)
        chat, _, message_id = target.item_id.rpartition(":")
        chat = chat or target.root_id
        if not chat.lstrip("-").isdigit() or not message_id.isdigit():
            raise DeliveryError(
                f"Telegram item {target.item_id!r} is not <chat_id>:<message_id>",
                network_code=None,
                kind="permanent",
            )
        body = {"chat_id": int(chat), "text": text, "reply_parameters": {"message_id": int(message_id)}}
        try:
            message = _message(await self._send(account, token, "sendMessage", body))
        except DeliveryError as error:
            if error.network_code == "400" and "chat not found" in error.message.lower():
                raise DeliveryError(
                    "Telegram does not know this chat: the person never wrote to the bot or deleted the "
                    "chat; answer by another channel",
                    network_code=error.network_code,
                    kind="permanent",
                ) from None
            raise
        sent = f"{chat}:{message['message_id']}"
        # A private chat has no public address.
        return Publication(sent, "", (sent,))

    async def find_reply(
        self, account: PageAccount, text: str, target: ReplyTarget, *, since: float
    ) -> Publication | None:
        raise NotImplementedError(
            "Telegram's Bot API cannot read a chat back: check the chat before answering again"
        )

    async def _send_media(
        self,
        account: PageAccount,
        token: str,
        caption: str,
        entities: Sequence[dict[str, object]] | None,
        media: Sequence[Media],
    ) -> dict[str, Any]:
        """The thread's first message: one photo or video (`sendPhoto`, `sendVideo`) or an album.

        Bytes are uploaded when present; an attachment with only a URL is fetched by Telegram.
        An album (`sendMediaGroup`) answers one message per item: the first, which carries the
        caption, stands for the part.
        """
        check_media(_MEDIA_RULES, media)
        fields: dict[str, Any] = {"chat_id": _chat(account), "caption": caption}
        if entities:
            fields["caption_entities"] = list(entities)
        files: list[tuple[str, Media]] = []
        if len(media) == 1:
            item = media[0]
            field = _FIELDS[item.kind]
            if item.data:
                files.append((field, item))
            else:
                fields[field] = item.url
            method = "sendPhoto" if item.kind == "image" else "sendVideo"
        else:
            album = []
            for number, item in enumerate(media):
                entry: dict[str, Any] = {"type": _FIELDS[item.kind], "media": item.url}
                if item.data:
                    files.append((f"file{number}", item))
                    entry["media"] = f"attach://file{number}"
                album.append(entry)
            album[0] |= {key: fields.pop(key) for key in ("caption", "caption_entities") if key in fields}
            fields["media"] = album
            method = "sendMediaGroup"
        if not files:
            return _message(await self._send(account, token, method, fields))
        body = await multipart_body(fields, [(name, item, item.data or b"") for name, item in files])
        result = await self._send(account, token, method, fields, multipart=body)
        return _message(result)

    async def _send(
        self,
        account: PageAccount,
        token: str,
        method: str,
        body: dict[str, Any],
        *,
        multipart: tuple[bytes, str] | None = None,
    ) -> Any:
        """Call `method` (with `body` as JSON, or the `multipart` body and its Content-Type)."""
        reply = await self._request(
            account,
            "POST",
            f"{account.base_url.rstrip('/')}/bot{token}/{method}",
            secrets=[token],
            json_body=body if multipart is None else None,
            multipart=multipart,
        )
        answer = reply.json_object()
        if answer.get("ok") is not True:
            raise _error(reply, [token])
        return answer.get("result")
