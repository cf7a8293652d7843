"""Prometheus metrics: one registry per process, `GET /metrics` on every service, and the readings
every service shares (its NATS connection, its durable consumers' lag).

- **Who may read them**: a bearer token of role `ops` or `admin` (Prometheus sends one with
  `authorization: {credentials_file: …}`). Metrics name agencies, networks and volumes: an outsider
  gets 401, another role 403, each refusal recorded like any other (shared/access.py).
- **Cardinality stays bounded**: labels are networks, statuses, streams, durables and agencies
  (a registry of 233 agencies is fine), never post ids or pages.
- **Counted where it happens, read where it is kept**: counters and histograms are updated by the
  code that sees the event (the dispatcher's outcomes); gauges of what a database holds (queues,
  backlogs, states) are read from it at each scrape (`set_reader`), so they cannot drift from it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import structlog
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from nats.js import JetStreamContext
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from shared import bus, config
from shared.access import AUTHENTICATE, PUBLIC_ROUTES, RECORD_REFUSAL, Refusal, health_app
from shared.api_contract import Answer, Operation
from shared.tokens import ROLES, Claims, load_public_key
from shared.web import AuthError, ReadyCheck, bearer_claims

__all__ = [
    "CONSUMER_LAG",
    "DELIVERIES",
    "DELIVERY_LATENCY",
    "METRICS_OPERATION",
    "METRICS_PATH",
    "METRICS_ROLES",
    "NATS_CONNECTED",
    "REGISTRY",
    "add_metrics_route",
    "age_seconds",
    "service_app",
    "set_reader",
    "timestamp",
    "watch_bus",
]

log = structlog.get_logger("relais.metrics")

METRICS_PATH = "/metrics"
METRICS_ROLES = ("ops", "admin")
# How the OpenAPI documents of the hub and intake describe the route.
METRICS_OPERATION = Operation(
    "GET",
    METRICS_PATH,
    "Prometheus metrics of this service (ops and admin tokens only)",
    {
        200: Answer("the Prometheus text exposition format (version 0.0.4)", media_type="text/plain"),
        403: Answer("forbidden: a role other than ops or admin"),
    },
)
LAG_INTERVAL = 10.0  # seconds between two readings of the consumers' info

REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)  # memory, CPU, open files of the process

DELIVERIES = Counter(
    "relais_deliveries",  # exported as relais_deliveries_total
    "Delivery outcomes the dispatcher recorded, by network and resulting status",
    ["network", "status"],
    registry=REGISTRY,
)
DELIVERY_LATENCY = Histogram(
    "relais_delivery_latency_seconds",
    "From approval (or the scheduled time, if later) to published, by network",
    ["network"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600),
    registry=REGISTRY,
)
NATS_CONNECTED = Gauge(
    "relais_nats_connected", "1 while the process is connected to NATS, else 0", registry=REGISTRY
)
CONSUMER_LAG = Gauge(
    "relais_consumer_lag_messages",
    "Messages of a durable consumer not yet acknowledged (num_pending + num_ack_pending)",
    ["stream", "durable"],
    registry=REGISTRY,
)

# What a database holds, read at each scrape: name → a function yielding metric families.
Reader = Callable[[], Iterable[Metric]]
_readers: dict[str, Reader] = {}


class _Readers(Collector):
    def collect(self) -> Iterator[Metric]:
        for name, reader in list(_readers.items()):
            try:
                yield from reader()
            except Exception:  # a scrape never fails because one reading did
                log.exception("metrics.reader_failed", reader=name)


REGISTRY.register(_Readers())


def set_reader(name: str, reader: Reader) -> None:
    """Read `reader`'s metrics at each scrape (replacing an earlier reader of that name)."""
    _readers[name] = reader


def timestamp(moment: str | None) -> float | None:
    """Seconds since the epoch of an ISO-8601 UTC time stored by Relais; None if unset."""
    if not moment:
        return None
    parsed = datetime.fromisoformat(moment)
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def age_seconds(moment: str | None, now: float) -> float:
    """How old an ISO-8601 time is at `now` (0 when there is none)."""
    at = timestamp(moment)
    return 0.0 if at is None else max(now - at, 0.0)


# ---------------------------------------------------------------------------------------------
# The route


async def _metrics(request: web.Request) -> web.Response:
    key = request.app[_KEY_OF](request)
    if key is None:
        raise AuthError(401, "invalid_token", "this service has no key to check tokens with yet")
    bearer_claims(request, key, METRICS_ROLES)
    return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})


KeyOf = Callable[[web.Request], Ed25519PublicKey | None]
_KEY_OF: web.AppKey[KeyOf] = web.AppKey("metrics_key_of", Callable)  # type: ignore[arg-type]


def _bearer_authenticate(request: web.Request) -> Claims | None:
    """For the services whose only other routes are public: any token the hub signed."""
    if "Authorization" not in request.headers:
        return None
    key = request.app[_KEY_OF](request)
    if key is None:
        raise AuthError(401, "invalid_token", "this service has no key to check tokens with yet")
    return bearer_claims(request, key, ROLES)


def _logged_only(request: web.Request, refusal: Refusal) -> None:
    """Services without an audit of their own: access.py logs each refusal (`permission.denied`,
    with route, address and token id) after this sink; the log is their record."""


def add_metrics_route(app: web.Application, key_of: KeyOf) -> None:
    """`GET /metrics` for ops and admins. An app that authenticates nothing else (health-only
    services) gets bearer authentication for it, and its refusals logged."""
    app[_KEY_OF] = key_of
    if AUTHENTICATE not in app:
        app[AUTHENTICATE] = _bearer_authenticate
    if RECORD_REFUSAL not in app:
        app[RECORD_REFUSAL] = _logged_only
    assert ("GET", METRICS_PATH) not in app.get(PUBLIC_ROUTES, frozenset()), "/metrics is never public"
    app.router.add_get(METRICS_PATH, _metrics)


class _PublicKeyFile:
    """The hub's public key, read from its file once it exists (the hub may create it after us)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.key: Ed25519PublicKey | None = None

    def __call__(self, request: web.Request) -> Ed25519PublicKey | None:
        if self.key is None and self.path.exists():
            self.key = load_public_key(self.path)
        return self.key


def service_app(ready: ReadyCheck, public_key_file: Path | None = None) -> web.Application:
    """Health routes and `/metrics`: the HTTP side of federation, formatter and dispatcher."""
    app = health_app(ready)
    add_metrics_route(app, _PublicKeyFile(public_key_file or config.token_public_key_path()))
    return app


# ---------------------------------------------------------------------------------------------
# What every service reads from its bus


async def watch_bus(
    link: bus.BusLink,
    consumers: Iterable[bus.ConsumerSpec],
    stop: asyncio.Event,
    interval: float = LAG_INTERVAL,
) -> None:
    """Keep `relais_nats_connected` and the lag of the durables this service owns up to date, until
    `stop`. A consumer that cannot be read (not created yet, the bus away) keeps its last value."""
    NATS_CONNECTED.set_function(lambda: 1.0 if link.connected else 0.0)
    specs = list(consumers)
    read: set[str] = set()
    while not stop.is_set():
        if link.nc is not None and link.connected:
            js: JetStreamContext = link.nc.jetstream()
            for spec in specs:
                try:
                    info = await js.consumer_info(spec.stream, spec.durable, timeout=2)
                except Exception as exc:
                    log.debug("metrics.consumer_unread", durable=spec.durable, error=type(exc).__name__)
                    continue
                lag = (info.num_pending or 0) + (info.num_ack_pending or 0)
                CONSUMER_LAG.labels(stream=spec.stream, durable=spec.durable).set(lag)
                read.add(spec.durable)
        # Soon again while some consumer has never been read (it is created when its reader starts).
        wait = interval if len(read) == len(specs) else min(interval, 1.0)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), wait)
