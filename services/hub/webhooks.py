"""The inbox's pushed items (issue #15): the public endpoints the networks call with what people sent
to the federation's pages, checked, masked and published on the bus as `InboxItemReceived`.

- `GET /webhooks/meta`: Meta's subscription handshake (`hub.mode=subscribe`, `hub.verify_token` the
  configured token → `hub.challenge` echoed as text/plain; anything else 403).
- `POST /webhooks/meta`: Facebook Page comments (`object: "page"`, `changes` of `field: "feed"`,
  `item: "comment"`, `verb: "add"`) and Messenger messages (`messaging` events with a `message`: a
  conversation per person, rooted at the sender's page-scoped id); Instagram comments
  (`object: "instagram"`, `changes` of `field: "comments"`), the same way. The body is signed by Meta
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
from typing import Any

import msgspec
import structlog
from aiohttp import web
from prometheus_client import Counter

from services.hub.keys import LINK, MIRROR
from services.hub.webhook_items import (
    MetaNotification,
    Pushed,
    TelegramUpdate,
    inbox_item,
    meta_items,
    telegram_items,
)
from services.hub.webhook_secrets import WebhookSecrets
from shared import bus
from shared.access import PublicRoutes, note_refusal
from shared.api_contract import Answer, Operation, Parameter
from shared.http_body import BodyError
from shared.metrics import REGISTRY
from shared.schemas import (
    InboxItemReceived,
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
