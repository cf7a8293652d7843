"""Dispatcher: publishes approved variants through each network's adapter, once per idempotency key.

Per variant: record `publishing` → call the network → record the outcome → announce it; the bus
message is acked only when every variant's outcome is recorded.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import aiohttp
import sqlite_utils
import structlog
from nats.js import JetStreamContext

from services.dispatcher.adapters.base import (
    DeliveryError,
    NetworkAdapter,
    PageAccount,
    UnknownOutcome,
    adapter_for,
)
from services.dispatcher.credentials import CredentialStore
from services.dispatcher.directory import PageDirectory
from services.dispatcher.settings import Settings
from services.dispatcher.store import FINAL, DeliveryRow, get_delivery, save_delivery
from shared import bus
from shared.ids import utc_now
from shared.schemas import DeliveryError as ErrorInfo
from shared.schemas import DeliveryUpdated, PostApproved, Variant, decode, deliveries_subject

log = structlog.get_logger("relais.dispatcher")

CONSUMER = bus.ConsumerSpec(
    stream="DECISIONS",
    durable="dispatcher",
    filter_subject="decisions.*.*.approved",
    ack_wait=300.0,
    batch=16,
)


def delivery_key(post_id: str, network: str, page: str) -> str:
    """The idempotency key of one variant to one page: the same everywhere it is used."""
    return f"{post_id}.{network}.{page}"


class Dispatcher:
    def __init__(
        self,
        settings: Settings,
        db: sqlite_utils.Database,
        js: JetStreamContext,
        session: aiohttp.ClientSession,
        pages: PageDirectory,
    ) -> None:
        self._settings = settings
        self._db = db
        self._js = js
        self._session = session
        self._pages = pages
        self._credentials = CredentialStore(settings.credentials_file)
        self._slots = asyncio.Semaphore(settings.concurrency)
        # One adapter per network for the process's life: adapters keep sessions (Bluesky logins
        # are rate-limited to 30 per 5 minutes per account).
        self._adapters: dict[str, NetworkAdapter] = {}

    async def handle(self, message: bus.Incoming) -> None:
        post = decode(message.data, PostApproved)
        delay = _seconds_until(post.schedule_at)
        if delay > 0:
            raise bus.Retry("scheduled for later", delay=delay)
        results = await asyncio.gather(
            *(self.deliver(post, v) for v in post.variants), return_exceptions=True
        )
        retries = [r for r in results if isinstance(r, BaseException)]
        for failure in retries:
            if not isinstance(failure, bus.Retry):
                raise failure
        if retries:
            raise bus.Retry(str(retries[0]), delay=min(r.delay for r in retries if isinstance(r, bus.Retry)))

    async def deliver(self, post: PostApproved, variant: Variant) -> None:
        key = delivery_key(post.post_id, variant.network, variant.page)
        dlog = log.bind(post_id=post.post_id, agency=post.agency, network=variant.network, page=variant.page)
        row = get_delivery(self._db, key)
        if row is not None and row.status in FINAL:
            await self._announce(post, variant, row)  # a redelivery: say it again, do nothing again
            return
        attempts = row.attempts if row else 0
        if row is not None and row.status == "publishing":
            # A previous process died during the call: the post may exist. Never call blindly again.
            error = {
                "message": "the dispatcher stopped during the call; outcome unknown",
                "network_code": None,
            }
            await self._record(post, variant, key, "unconfirmed", attempts, error=error)
            dlog.warning("delivery.unconfirmed", reason="interrupted call")
            return
        account = self._account(variant)
        if account is None:
            raise bus.Retry(f"page {variant.page} is not in the registry yet", delay=2.0)
        adapter = self._adapters.get(variant.network)
        if adapter is None:
            adapter = self._adapters[variant.network] = adapter_for(variant.network, self._session)
        async with self._slots:
            await self._record(post, variant, key, "publishing", attempts + 1)
            try:
                result = await adapter.publish(account, variant.parts, idempotency_key=key, link=post.link)
            except DeliveryError as exc:
                await self._failed(post, variant, key, attempts + 1, exc)
                return
            except Exception as exc:
                # Timeout, reset, or a bug: the request may have been sent. Never call again blindly.
                if not isinstance(exc, UnknownOutcome):
                    dlog.exception("delivery.adapter_crashed")
                error = {"message": f"outcome unknown: {exc}", "network_code": None}
                await self._record(post, variant, key, "unconfirmed", attempts + 1, error=error)
                dlog.warning("delivery.unconfirmed", reason=str(exc))
                return
        await self._record(
            post,
            variant,
            key,
            "published",
            attempts + 1,
            remote_id=result.remote_id,
            url=result.url,
            part_ids=list(result.part_ids),
        )
        dlog.info("delivery.published", remote_id=result.remote_id)

    async def _failed(
        self, post: PostApproved, variant: Variant, key: str, attempts: int, exc: DeliveryError
    ) -> None:
        """A transient error is retried later (the bus redelivers); any other ends the delivery."""
        error = {"message": exc.message, "network_code": exc.network_code}
        dlog = log.bind(post_id=post.post_id, agency=post.agency, network=variant.network, page=variant.page)
        if exc.kind == "transient":
            save_delivery(
                self._db,
                key,
                post_id=post.post_id,
                agency=post.agency,
                network=variant.network,
                page=variant.page,
                status="pending",
                attempts=attempts,
                error=error,
            )
            dlog.info("delivery.retrying", error=exc.message, code=exc.network_code)
            raise bus.Retry(exc.message, delay=exc.retry_after or min(2.0**attempts, 300.0)) from None
        await self._record(post, variant, key, "failed", attempts, error=error)
        dlog.warning("delivery.failed", error=exc.message, code=exc.network_code, kind=exc.kind)

    def _account(self, variant: Variant) -> PageAccount | None:
        page = self._pages.get(variant.page)
        if page is None:
            return None
        credentials = self._credentials.get(page.credentials_ref) or {}
        return PageAccount(
            page_id=page.page,
            network=page.network,
            handle=page.handle,
            credentials=credentials,
            base_url=self._settings.api_urls[page.network],
        )

    async def _record(
        self,
        post: PostApproved,
        variant: Variant,
        key: str,
        status: str,
        attempts: int,
        *,
        remote_id: str | None = None,
        url: str | None = None,
        part_ids: list[str] | None = None,
        error: dict[str, str | None] | None = None,
    ) -> None:
        save_delivery(
            self._db,
            key,
            post_id=post.post_id,
            agency=post.agency,
            network=variant.network,
            page=variant.page,
            status=status,
            attempts=attempts,
            remote_id=remote_id,
            url=url,
            part_ids=part_ids,
            error=error,
        )
        await self._announce(post, variant, DeliveryRow(key, status, attempts, remote_id, url, error))

    async def _announce(self, post: PostApproved, variant: Variant, row: DeliveryRow) -> None:
        error = None
        if row.error:
            error = ErrorInfo(
                message=str(row.error.get("message")), network_code=row.error.get("network_code")
            )
        # Announced to the page's agency: its node follows deliveries on its own pages, campaigns included.
        agency = variant.agency or post.agency
        update = DeliveryUpdated(
            post_id=post.post_id,
            agency=agency,
            occurred_at=utc_now(),
            network=variant.network,
            page=variant.page,
            status=row.status,
            remote_id=row.remote_id,
            url=row.url,
            error=error,
        )
        subject = deliveries_subject(agency, post.post_id, row.status)
        await bus.publish(self._js, subject, update, f"{row.key}.{row.status}.{row.attempts}")


def _seconds_until(moment: str | None) -> float:
    if not moment:
        return 0.0
    return (datetime.fromisoformat(moment) - datetime.now(UTC)).total_seconds()
