"""The inbox's pushed items (issue #15): the public endpoints the networks call with what people sent
to the federation's pages, checked, masked and published on the bus as `InboxItemReceived`.

- `GET /webhooks/meta`: Meta's subscription handshake (`hub.mode=subscribe`, `hub.verify_token` the
  configured token → `hub.challenge` echoed as text/plain; anything else 403).
- `POST /webhooks/meta`: Facebook Page comments (`object: "page"`, `changes` of `field: "feed"`,
  `item: "comment"`, `verb: "add"`) and Messenger messages (`messaging` events with a `message`: a
  conversation per person, rooted at the sender's page-scoped id). The body is signed by Meta
  (`X-Hub-Signature-256: sha256=<HMAC-SHA256 of the raw body under the app secret>`): the signature
  is checked, in constant time, before a byte of it is parsed.
- `POST /webhooks/telegram/{page}`: the bot's `Update`s for one Relais page, carrying the page's
  `secret_token` (setWebhook) in `X-Telegram-Bot-Api-Secret-Token`.

Every item is attached to its page's agency through the hub's copy of the pages registry, its text
masked (`shared.personal_data`) before it leaves this process, and published with `Nats-Msg-Id` =
`inbox_msg_id(network, item_id)`: a retried or duplicated push is stored once (within the INBOX
stream's de-duplication window; the inbox's stores key on the same id beyond it). The answer waits
for JetStream's acknowledgements, so a bus failure answers 503 and the network pushes again. An
item for a page the registry does not know is answered 200 (the network would retry for days),
logged and counted (`relais_webhook_items_total{outcome="unknown_page"}`), and published nowhere.

The routes take no bearer token (the networks have none) and are public in the hub's access table;
a refused call is audited like any refusal (shared/access.py), with nothing of the secrets in it.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
import structlog
from aiohttp import web
from prometheus_client import Counter

from services.hub.keys import LINK, MIRROR
from services.hub.webhook_secrets import WebhookSecrets
from shared import bus
from shared.access import PublicRoutes, note_refusal
from shared.api_contract import Answer, Operation, Parameter
from shared.http_body import BodyError
from shared.ids import utc_now
from shared.metrics import REGISTRY
from shared.personal_data import mask
from shared.schemas import (
    InboxItemReceived,
    PageRecord,
    conversation_key,
    encode,
    inbox_msg_id,
    inbox_subject,
)
from shared.web import json_error

__all__ = ["OPERATIONS", "PUBLIC", "SECRETS", "add_routes"]

log = structlog.get_logger("relais.hub.webhooks")

META_PATH = "/webhooks/meta"
TELEGRAM_PATH = "/webhooks/telegram/{page}"
PUBLIC: PublicRoutes = frozenset({("GET", META_PATH), ("POST", META_PATH), ("POST", TELEGRAM_PATH)})
SECRETS = web.AppKey("webhook_secrets", WebhookSecrets)

# Meta batches up to 1,000 changes in one call (a comment is at most 8,000 characters, most far
# less); Telegram sends one Update per call (a message is at most 4,096 characters).
META_MAX_BODY = 4 * 1024 * 1024
TELEGRAM_MAX_BODY = 256 * 1024
MAX_CHALLENGE = 256  # Meta's challenge is a number; anything longer is not a handshake
SIGNATURE_HEADER = "X-Hub-Signature-256"
TELEGRAM_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

WEBHOOK_ITEMS = Counter(
    "relais_webhook_items",  # exported as relais_webhook_items_total
    "Items the networks pushed to the hub, by network and what became of them"
    " (published, duplicate, unknown_page)",
    ["network", "outcome"],
    registry=REGISTRY,
)


# ---------------------------------------------------------------------------------------------
# What the networks send (only the fields read; every other field is ignored)


class MetaUser(msgspec.Struct):
    id: str = ""
    name: str = ""
    username: str = ""


class FeedChange(msgspec.Struct, rename={"author": "from"}):
    """`changes[].value` of a Page's `feed` field."""

    item: str = ""
    verb: str = ""
    comment_id: str = ""
    post_id: str = ""  # the Page post the comment is under
    parent_id: str = ""  # that post for a comment, the comment answered for a reply
    message: str = ""
    created_time: int | float | str | None = None
    author: MetaUser | None = None


class MetaChange(msgspec.Struct):
    field: str = ""
    value: msgspec.Raw = msgspec.Raw(b"null")


class MessengerReplyTo(msgspec.Struct):
    mid: str = ""


class MessengerMessage(msgspec.Struct):
    mid: str = ""
    text: str = ""
    is_echo: bool = False  # sent by the Page itself: not something to answer
    reply_to: MessengerReplyTo | None = None


class MessagingEvent(msgspec.Struct):
    sender: MetaUser | None = None
    timestamp: int | float = 0  # milliseconds
    message: MessengerMessage | None = None


class MetaEntry(msgspec.Struct):
    id: str = ""  # the Page's id (its `handle` in the registry)
    changes: list[MetaChange] = []
    messaging: list[MessagingEvent] = []


class MetaNotification(msgspec.Struct):
    object: str = ""
    entry: list[MetaEntry] = []


class TelegramUser(msgspec.Struct):
    id: int = 0
    first_name: str = ""
    last_name: str = ""
    username: str = ""


class TelegramChat(msgspec.Struct):
    id: int


class TelegramReplied(msgspec.Struct):
    message_id: int


class TelegramMessage(msgspec.Struct, rename={"author": "from"}):
    message_id: int
    chat: TelegramChat
    date: int = 0
    text: str = ""
    caption: str = ""  # a photo's or a document's words
    author: TelegramUser | None = None
    reply_to_message: TelegramReplied | None = None


class TelegramUpdate(msgspec.Struct):
    update_id: int
    message: TelegramMessage | None = None


# ---------------------------------------------------------------------------------------------
# Items


@dataclass(frozen=True)
class Pushed:
    """One item as a network pushed it, before masking; `page_ref` is how the network names the
    page (a Meta Page id, looked up among the registry's handles; a Relais page id for Telegram)."""

    network: str
    page_ref: str
    item_id: str
    root_id: str
    kind: str
    text: str
    created_at: str
    parent_id: str | None = None
    author_name: str = ""
    author_id: str = ""
    remote_post_id: str | None = None


def inbox_item(pushed: Pushed, page: PageRecord) -> InboxItemReceived:
    """The bus message: text (and the author's displayed name) masked before anything else sees it."""
    text = mask(pushed.text)
    return InboxItemReceived(
        post_id="",  # the Relais post it answers is found by the inbox from `remote_post_id`
        agency=page.agency,
        occurred_at=utc_now(),
        network=pushed.network,
        page=page.page,
        item_id=pushed.item_id,
        conversation=conversation_key(pushed.network, pushed.root_id),
        root_id=pushed.root_id,
        parent_id=pushed.parent_id,
        kind=pushed.kind,
        author_name=mask(pushed.author_name).text,
        author_id=pushed.author_id,
        text=text.text,
        masked=list(text.kinds),
        created_at=pushed.created_at,
        remote_post_id=pushed.remote_post_id,
        via="webhook",
    )


def iso_time(value: int | float | str | None, *, milliseconds: bool = False) -> str:
    """A network's date as ISO-8601 UTC; now when it gave none that reads as one."""
    if isinstance(value, int | float) and value > 0:
        seconds = value / 1000 if milliseconds else value
        return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return utc_now()
        if parsed.tzinfo is not None:
            return parsed.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return utc_now()


def meta_items(notification: MetaNotification) -> list[Pushed]:
    """The Page comments and Messenger messages of one notification; everything else (reactions,
    edits, removals, the Page's own echoes…) is not an inbox item."""
    if notification.object != "page":
        return []
    found: list[Pushed] = []
    for entry in notification.entry:
        for change in entry.changes:
            if change.field == "feed":
                found += _feed_comment(entry.id, change.value)
        for event in entry.messaging:
            message = event.message
            if message is None or message.is_echo or not message.mid or event.sender is None:
                continue
            found.append(
                Pushed(
                    network="facebook",
                    page_ref=entry.id,
                    item_id=message.mid,
                    root_id=event.sender.id,  # one conversation per person (page-scoped id)
                    parent_id=message.reply_to.mid if message.reply_to and message.reply_to.mid else None,
                    kind="message",
                    text=message.text,
                    author_id=event.sender.id,
                    created_at=iso_time(event.timestamp, milliseconds=True),
                )
            )
    return found


def _feed_comment(page_id: str, raw: msgspec.Raw) -> list[Pushed]:
    try:
        value = msgspec.json.decode(raw, type=FeedChange)
    except msgspec.ValidationError:
        return []  # a feed change of another shape (a status, a photo…): not an inbox item
    if value.item != "comment" or value.verb != "add" or not value.comment_id or not value.post_id:
        return []
    reply = bool(value.parent_id) and value.parent_id != value.post_id
    author = value.author or MetaUser()
    return [
        Pushed(
            network="facebook",
            page_ref=page_id,
            item_id=value.comment_id,
            root_id=value.post_id,
            parent_id=value.parent_id or value.post_id,
            kind="reply" if reply else "comment",
            text=value.message,
            author_name=author.name,
            author_id=author.id,
            created_at=iso_time(value.created_time),
            remote_post_id=value.post_id,
        )
    ]


def telegram_items(page: str, update: TelegramUpdate) -> list[Pushed]:
    message = update.message
    if message is None:
        return []  # edits, channel posts, callbacks…: not an inbox item
    chat = str(message.chat.id)
    author = message.author or TelegramUser()
    replied = message.reply_to_message
    return [
        Pushed(
            network="telegram",
            page_ref=page,
            item_id=f"{chat}:{message.message_id}",
            root_id=chat,
            parent_id=f"{chat}:{replied.message_id}" if replied else None,
            kind="message",
            text=message.text or message.caption,
            author_name=" ".join(part for part in (author.first_name, author.last_name) if part),
            author_id=str(author.id) if author.id else "",
            created_at=iso_time(message.date),
        )
    ]


# ---------------------------------------------------------------------------------------------
# Routes


async def meta_handshake(request: web.Request) -> web.StreamResponse:
    expected = request.app[SECRETS].meta_verify_token
    given = request.query.get("hub.verify_token", "")
    challenge = request.query.get("hub.challenge", "")
    matches = hmac.compare_digest(_bytes(given), _bytes(expected))
    if request.query.get("hub.mode") != "subscribe" or not expected or not matches:
        message = "not a subscribe request with the configured verify token"
        return _refused(request, 403, "verification_refused", message, "hub.verify_token")
    if not challenge or len(challenge) > MAX_CHALLENGE:
        return json_error(400, "invalid_challenge", "hub.challenge is missing or too long", "hub.challenge")
    return web.Response(text=challenge, content_type="text/plain")


async def meta_notification(request: web.Request) -> web.StreamResponse:
    secret = request.app[SECRETS].meta_app_secret
    body = await read_bounded(request, META_MAX_BODY)
    if not secret:
        message = "no Meta app secret is configured"
        return _refused(request, 401, "webhook_not_configured", message, SIGNATURE_HEADER)
    if not meta_signature_matches(secret, body, request.headers.get(SIGNATURE_HEADER, "")):
        message = f"{SIGNATURE_HEADER} does not sign this body"
        return _refused(request, 401, "invalid_signature", message, SIGNATURE_HEADER)
    try:
        notification = msgspec.json.decode(body, type=MetaNotification)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return json_error(400, "invalid_json", "the body is not a Meta webhook notification", None)
    return await publish_items(request, meta_items(notification), by_handle=True)


async def telegram_update(request: web.Request) -> web.StreamResponse:
    page = request.match_info["page"]
    expected = request.app[SECRETS].telegram.get(page, "")
    given = request.headers.get(TELEGRAM_SECRET_HEADER, "")
    body = await read_bounded(request, TELEGRAM_MAX_BODY)
    if not (expected and hmac.compare_digest(_bytes(given), _bytes(expected))):
        message = f"{TELEGRAM_SECRET_HEADER} is not this page's secret token"
        return _refused(request, 401, "invalid_secret_token", message, TELEGRAM_SECRET_HEADER)
    try:
        update = msgspec.json.decode(body, type=TelegramUpdate)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return json_error(400, "invalid_json", "the body is not a Telegram Update", None)
    return await publish_items(request, telegram_items(page, update), by_handle=False)


def meta_signature_matches(secret: str, body: bytes, header: str) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(_bytes(header.strip().lower()), expected.encode())


def _bytes(value: str) -> bytes:
    """For `hmac.compare_digest`, which takes only ASCII strings: a header may hold anything."""
    return value.encode("utf-8", "surrogateescape")


def _refused(request: web.Request, status: int, code: str, message: str, field: str) -> web.Response:
    """A refused push: audited by the access layer as any 401/403 (the reason names the check that
    failed, never a secret), and logged."""
    note_refusal(request, f"webhook refused: {message}")
    log.warning("webhook.refused", code=code, path=request.path, remote=request.remote)
    return json_error(status, code, message, field)


async def read_bounded(request: web.Request, limit: int) -> bytes:
    """The raw body (it is what the signature signs), refused with 413 past `limit` bytes without
    reading the rest."""
    if request.content_length is not None and request.content_length > limit:
        raise BodyError(413, "body_too_large", f"the body is over {limit} bytes")
    body = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > limit:
            raise BodyError(413, "body_too_large", f"the body is over {limit} bytes")
    return bytes(body)


async def publish_items(request: web.Request, pushed: list[Pushed], *, by_handle: bool) -> web.StreamResponse:
    """Publish each item of a known page and wait for every acknowledgement; 503 when the bus or the
    registry is not there yet, so that the network pushes the whole call again."""
    mirror, link = request.app[MIRROR], request.app[LINK]
    if not mirror.loaded.is_set():
        message = "the pages registry is not loaded yet: try again"
        return json_error(503, "registry_unavailable", message, None)
    handles = {(r.network, r.handle): r for r in mirror.records()} if by_handle else {}
    messages: list[InboxItemReceived] = []
    unknown = 0
    for item in pushed:
        page = handles.get((item.network, item.page_ref)) if by_handle else mirror.get(item.page_ref)
        if page is None or page.network != item.network:
            unknown += 1
            WEBHOOK_ITEMS.labels(item.network, "unknown_page").inc()
            log.warning(
                "webhook.unknown_page", network=item.network, page_ref=item.page_ref, item_id=item.item_id
            )
            continue
        messages.append(inbox_item(item, page))
    if not messages:
        return web.json_response({"published": 0, "duplicates": 0, "unknown_pages": unknown})
    if link.nc is None or not link.connected:
        return json_error(503, "bus_unavailable", "the hub's bus is unreachable: try again", None)
    answers = await bus.publish_pipelined(
        link.nc,
        [
            (
                inbox_subject(m.agency, m.conversation, "received"),
                encode(m),
                {"Nats-Msg-Id": inbox_msg_id(m.network, m.item_id)},
            )
            for m in messages
        ],
    )
    duplicates = 0
    for sent, answer in zip(messages, answers, strict=True):
        if isinstance(answer, BaseException) or answer.get("error") or "seq" not in answer:
            log.error("webhook.not_published", network=sent.network, agency=sent.agency, answer=str(answer))
            return json_error(503, "bus_unavailable", "the bus did not store every item: try again", None)
        duplicate = bool(answer.get("duplicate"))
        duplicates += duplicate
        WEBHOOK_ITEMS.labels(sent.network, "duplicate" if duplicate else "published").inc()
        log.info(
            "webhook.item_received",
            post_id=sent.post_id,
            agency=sent.agency,
            network=sent.network,
            page=sent.page,
            item_id=sent.item_id,
            kind=sent.kind,
            duplicate=duplicate,
        )
    return web.json_response(
        {"published": len(messages) - duplicates, "duplicates": duplicates, "unknown_pages": unknown}
    )


def add_routes(app: web.Application, secrets: WebhookSecrets) -> None:
    app[SECRETS] = secrets
    app.router.add_get(META_PATH, meta_handshake)
    app.router.add_post(META_PATH, meta_notification)
    app.router.add_post(TELEGRAM_PATH, telegram_update)


# ---------------------------------------------------------------------------------------------
# The hub's OpenAPI document (services/hub/openapi.py)

_TAGS = ("webhooks",)
_PUSHED = Answer("stored on the bus (or a duplicate, or for an unknown page: logged, nothing published)")
_BUS = Answer("the bus or the pages registry is unreachable: nothing is acknowledged, push again")
_RAW: dict[str, Any] = {"type": "object"}
OPERATIONS: list[Operation] = [
    Operation(
        "GET",
        META_PATH,
        "Meta's subscription handshake: the challenge echoed when the verify token matches",
        {
            200: Answer("hub.challenge, as sent", media_type="text/plain"),
            400: Answer("hub.challenge missing or too long"),
            403: Answer("not a subscribe request, or not the configured verify token"),
        },
        access="public",
        parameters=[
            Parameter("hub.mode", str, "subscribe"),
            Parameter("hub.verify_token", str, "the token configured with the app"),
            Parameter("hub.challenge", str, "echoed back"),
        ],
        tags=_TAGS,
    ),
    Operation(
        "POST",
        META_PATH,
        "Facebook Page comments and Messenger messages, signed with the app secret",
        {
            200: _PUSHED,
            400: Answer("a signed body that is not a notification"),
            401: Answer("X-Hub-Signature-256 missing or not this body's (invalid_signature)"),
            503: _BUS,
        },
        access="public",
        body_schema=_RAW,
        parameters=[Parameter(SIGNATURE_HEADER, str, "sha256=<hex HMAC-SHA256>", True, "header")],
        tags=_TAGS,
    ),
    Operation(
        "POST",
        TELEGRAM_PATH,
        "A Telegram bot's Update for one page, carrying the page's secret token",
        {
            200: _PUSHED,
            400: Answer("not an Update"),
            401: Answer("the secret token is not this page's (invalid_secret_token)"),
            503: _BUS,
        },
        access="public",
        body_schema=_RAW,
        parameters=[Parameter(TELEGRAM_SECRET_HEADER, str, "setWebhook's secret_token", True, "header")],
        tags=_TAGS,
    ),
]
