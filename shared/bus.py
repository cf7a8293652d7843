"""Bus helpers: connect to NATS, declare the streams, publish with de-duplication, consume with
explicit delivery semantics. The only I/O in `shared/`.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

import msgspec
import nats
import nats.errors
import nats.js.errors
import structlog
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    KeyValueConfig,
    StorageType,
    StreamConfig,
)
from nats.js.kv import KeyValue

from shared import config
from shared.retention import KV_RETENTION, MEDIA_RETENTION, STREAM_RETENTION, Retention
from shared.schemas import STREAMS, Message, encode, media_bucket_name

__all__ = [
    "HUB_USER",
    "BusClient",
    "BusConnection",
    "BusLink",
    "ConsumerSpec",
    "Incoming",
    "Retry",
    "agency_client",
    "agency_user",
    "connect",
    "consume",
    "consume_batches",
    "consumer_config",
    "ensure_consumer",
    "ensure_key_value",
    "ensure_lease_bucket",
    "ensure_media_bucket",
    "ensure_streams",
    "hub_client",
    "publish",
    "publish_once",
    "publish_once_many",
    "publish_pipelined",
    "server_options",
    "wait_connected",
]

log = structlog.get_logger("relais.bus")


class Retry(Exception):
    """Raised by a handler to have its message redelivered after `delay` seconds."""

    def __init__(self, reason: str, delay: float = 1.0) -> None:
        super().__init__(reason)
        self.delay = delay


# How a stalled link (a paused server, a half-open connection, a partition that drops packets
# without closing sockets) is found: nats-py sends a PING every PING_INTERVAL seconds and, when
# MAX_OUTSTANDING_PINGS are unanswered as the next one falls due, drops the connection and
# reconnects. A stall is thus replaced 6 to 8 s after it began (nats-py's defaults, 120 s and 2,
# took up to 6 minutes). Not less: a PING queues behind what is already being sent, and on a busy
# agency uplink that is at most one relay batch (~0.5 MB) or one media chunk, about 4 s at 1 Mbit/s;
# a healthy link answers within 2 s of RTT plus that, so 6 s does not flap on it.
PING_INTERVAL = 2
MAX_OUTSTANDING_PINGS = 3
# Past this without an answer from the server, the link is reported down (`BusLink.connected`,
# hence `/readyz`) even while nats-py still calls it connected: its stale check agrees a moment later.
STALL_SECONDS = PING_INTERVAL * MAX_OUTSTANDING_PINGS


class BusConnection(NATS):
    """nats-py's client, knowing when the server last answered, and carrying a workaround.

    The workaround (nats-py 2.16.0 and upstream main, unfixed): `flush()` or `rtt()` that times out
    cancels its PONG future but leaves it queued; when that PONG arrives (a stall that ended),
    `_process_pong` calls `set_result` on the cancelled future, raising `InvalidStateError`, which
    ends the read loop while the client still says it is connected: nothing is read any more
    (acknowledgements, replies, deliveries) until the stale check, minutes later. Here a PONG whose
    waiter gave up is consumed as the answer to that PING (PONGs come in PING order), nothing more.
    """

    def __init__(self) -> None:
        super().__init__()
        self.last_answer = time.monotonic()

    def answered(self) -> None:
        self.last_answer = time.monotonic()

    @property
    def stalled(self) -> bool:
        """No answer from the server (PONG) for longer than a healthy link allows."""
        return time.monotonic() - self.last_answer > STALL_SECONDS

    async def _process_pong(self) -> None:
        self.answered()
        # getattr: should nats-py rename its private queue, this falls back to its own code (and
        # tests/test_bus_stall.py fails) rather than raising in its read loop.
        pongs: list[asyncio.Future[Any]] | None = getattr(self, "_pongs", None)
        if pongs and pongs[0].done():  # its flush timed out: nobody waits for it
            pongs.pop(0)
            self._pongs_received += 1
            self._pings_outstanding = 0
            return
        await super()._process_pong()


class BusLink:
    """The process's NATS connection, which does not exist yet while the bus is unreachable."""

    def __init__(self) -> None:
        self.nc: NATS | None = None

    @property
    def connected(self) -> bool:
        """Connected, and (for a `BusConnection`) answering: a stalled link is not ready."""
        nc = self.nc
        if nc is None or not nc.is_connected:
            return False
        return not (isinstance(nc, BusConnection) and nc.stalled)

    async def close(self, **context: str) -> None:
        """Close the connection, if there is one, at shutdown. A process often stops with its link
        down: nats-py then fails flushing what it still held for the lost server (an `OSError`).
        Nothing of it was durable yet (each service keeps what must not be lost in its own outbox
        or in a stream), so the shutdown goes on: the rest of it must still run. On uvloop (the
        dispatcher) the same write to the closed socket is a `RuntimeError`."""
        if self.nc is None:
            return
        try:
            await self.nc.close()
        except (OSError, RuntimeError):
            log.info("bus.closed_while_down", **context)


HUB_USER = "hub"  # the NATS user of every hub-side service


def agency_user(agency: str) -> str:
    """The NATS user of an agency's node."""
    return f"agency-{agency}"


_INBOX_TOKEN = re.compile(r"_INBOX_[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class BusClient:
    """Who a connection is: its name (NATS monitoring, logs) and the one subject token its replies
    and JetStream deliveries come on (`<inbox_prefix>.…`).

    nats-py's default `_INBOX` is shared by every client, so a user allowed `_INBOX.>` would receive
    everyone's replies: each agency user may subscribe only to its own prefix (`relais.nats_auth`).
    nats-py builds every reply subject from the prefix: requests (JetStream API calls, publish
    acknowledgements), pull fetches, object-store gets and key-value watches.
    """

    name: str
    inbox_prefix: str

    def __post_init__(self) -> None:
        # One token: a '.' or a wildcard would let a permission on it cover other clients' inboxes.
        if not _INBOX_TOKEN.fullmatch(self.inbox_prefix):
            raise ValueError(f"inbox prefix must be one subject token _INBOX_<name>: {self.inbox_prefix!r}")


def agency_client(agency: str) -> BusClient:
    """An agency node: `_INBOX_agency-<id>`, the only inbox its NATS user may subscribe to."""
    return BusClient(f"intake-{agency}", f"_INBOX_{agency_user(agency)}")


def hub_client(service: str) -> BusClient:
    """A hub-side service: `_INBOX_hub_<service>`, out of every agency's reach."""
    return BusClient(service, f"_INBOX_{HUB_USER}_{service}")


async def connect(url: str, client: BusClient) -> BusConnection:
    """Connect as `client`, and keep reconnecting forever; a stalled link is dropped and replaced
    within seconds (`PING_INTERVAL`).

    `url` may list several comma-separated servers (a cluster's nodes, `shared.config.nats_url`):
    nats-py tries them in turn and moves to another when its node is lost. With `tls://` URLs the
    TLS handshake comes first, before the server says anything: nats-py otherwise upgrades only
    when the server's greeting asks for TLS, so anything answering at the address without asking
    would receive the password in clear. Certificates are checked against `RELAIS_NATS_CA_FILE`.

    nats-py gives up after ~2 minutes by default and drops what it buffered: an agency's link can
    be down for hours, so reconnect attempts are unlimited (which also makes the first connection
    wait until the server is reachable).
    """

    where, name = _without_credentials(url), client.name

    async def on_error(exc: Exception) -> None:
        if "permissions violation" in str(exc).lower():  # the server refused one operation
            log.warning("bus.refused", url=where, client=name, error=str(exc))
            return
        log.info("bus.unreachable", url=where, client=name, error=type(exc).__name__)

    async def on_disconnected() -> None:
        log.warning("bus.disconnected", url=where, client=name)

    nc = BusConnection()

    async def on_reconnected() -> None:
        nc.answered()  # the handshake's PONG, which nats-py reads itself
        log.info("bus.reconnected", url=where, client=name)

    try:
        await nc.connect(
            **server_options(url),
            name=name,
            inbox_prefix=client.inbox_prefix,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,  # type: ignore[arg-type]  # typed int, used as asyncio.sleep seconds
            connect_timeout=2,
            allow_reconnect=True,
            error_cb=on_error,
            disconnected_cb=on_disconnected,
            reconnected_cb=on_reconnected,
            ping_interval=PING_INTERVAL,
            max_outstanding_pings=MAX_OUTSTANDING_PINGS,
        )
    except BaseException:  # cancelled while still trying (a stop, a caller's timeout): close its socket
        with contextlib.suppress(Exception):
            await nc.close()
        raise
    nc.answered()
    return nc


def server_options(url: str) -> dict[str, Any]:
    """nats-py's `connect` options for `url` (one URL or several comma-separated): the servers, and
    for `tls://` ones, TLS spoken first and checked against `RELAIS_NATS_CA_FILE` (`connect`)."""
    tls = config.nats_tls(url)
    options: dict[str, Any] = {"servers": config.nats_servers(url)}
    if tls is not None:
        options |= {"tls": tls, "tls_handshake_first": True}
    return options


def _without_credentials(url: str) -> str:
    """The URL (or comma-separated URLs) for log lines: a NATS password must never reach a log."""
    return ",".join(_server_without_credentials(server) for server in url.split(","))


def _server_without_credentials(url: str) -> str:
    parts = urlsplit(url.strip())
    return (
        parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else "")).geturl()
        if parts.hostname
        else url
    )


async def wait_connected(url: str, client: BusClient, stop: asyncio.Event) -> BusConnection | None:
    """Connect as soon as the server is reachable; None if `stop` is set first."""
    connecting = asyncio.create_task(connect(url, client))
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({connecting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if connecting.done():
        return connecting.result()
    connecting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await connecting
    return None


DUPLICATE_WINDOW = 120.0  # seconds a `Nats-Msg-Id` is remembered


async def ensure_streams(
    js: JetStreamContext,
    retention: Mapping[str, Retention] = STREAM_RETENTION,
    replicas: int | None = None,
) -> None:
    """Declare every stream of the contract with its limits (`shared.retention`; a test passes
    shorter ones to see what happens past them) and its replicas (`_replicas`): created if missing,
    updated if its subjects, limits or replicas changed (how an existing deployment gets new ones).
    The hub side does this: agency users may create or update no stream at all."""
    replicas = _replicas(replicas)
    for name, subjects in STREAMS.items():
        limits = _limits(retention[name])
        await _declare(
            js,
            StreamConfig(
                name=name,
                subjects=subjects,
                storage=StorageType.FILE,
                # JetStream refuses a de-duplication window longer than the stream's max_age.
                duplicate_window=min(DUPLICATE_WINDOW, limits["max_age"] or DUPLICATE_WINDOW),
                deny_delete=True,
                num_replicas=replicas,
                **limits,
            ),
        )


async def ensure_media_bucket(js: JetStreamContext, agency: str, replicas: int | None = None) -> None:
    """The agency's object store (`media-<agency>`), declared by the hub side with its own subjects
    only and the media limits: an agency user cannot create a stream, so it cannot widen them
    (an agency-made bucket on `agencies.>` or another agency's `$O.` subjects read heartbeats and
    blocked uploads). The stream is the one nats-py's `create_object_store` makes."""
    bucket = media_bucket_name(agency)
    await _declare(
        js,
        StreamConfig(
            name=f"OBJ_{bucket}",
            description=f"attachments of {agency}'s posts, by media id",
            subjects=[f"$O.{bucket}.C.>", f"$O.{bucket}.M.>"],
            storage=StorageType.FILE,
            num_replicas=_replicas(replicas),
            allow_rollup_hdrs=True,  # an object's description replaces the previous one
            allow_direct=True,
            **_limits(MEDIA_RETENTION),
        ),
    )


async def ensure_key_value(js: JetStreamContext, bucket: str, replicas: int | None = None) -> KeyValue:
    """A key-value bucket of current state (one value per key), with the key-value limits and the
    replicas; an existing one gets them by update."""
    replicas = _replicas(replicas)
    try:
        kv = await js.key_value(bucket)
    except nats.js.errors.BucketNotFoundError:
        bucket_config = KeyValueConfig(
            bucket=bucket,
            history=1,
            storage=StorageType.FILE,
            max_bytes=KV_RETENTION.max_bytes,
            replicas=replicas,
        )
        return await js.create_key_value(bucket_config)
    stream = (await js.stream_info(f"KV_{bucket}")).config
    if stream.max_bytes != KV_RETENTION.max_bytes or stream.max_age or stream.num_replicas != replicas:
        await js.update_stream(replace(stream, num_replicas=replicas, **_limits(KV_RETENTION)))
    return kv


LEASE_BUCKET_BYTES = 1024**2  # a few hundred leases of a few hundred bytes each


async def ensure_lease_bucket(js: JetStreamContext, bucket: str, replicas: int | None = None) -> KeyValue:
    """A key-value bucket of leases: each entry is written with its own time to live (`Nats-TTL`,
    nats-server 2.11+) and vanishes unless renewed, so a process that dies without a word (SIGKILL,
    a lost machine) lets go of what it held by itself. Declared by the hub side, like the others."""
    await _declare(
        js,
        StreamConfig(
            name=f"KV_{bucket}",
            subjects=[f"$KV.{bucket}.>"],
            storage=StorageType.FILE,  # leases outlive a restart of the server, as their holders do
            num_replicas=_replicas(replicas),
            max_msgs_per_subject=1,
            max_bytes=LEASE_BUCKET_BYTES,
            discard=DiscardPolicy.NEW,
            allow_rollup_hdrs=True,
            deny_delete=True,
            allow_direct=True,
            allow_msg_ttl=True,
        ),
    )
    return await js.key_value(bucket)


def _replicas(replicas: int | None) -> int:
    """As asked, else `RELAIS_STREAM_REPLICAS`: every service of a deployment declares the same.
    Consumers are not given any: theirs follow their stream's."""
    return config.stream_replicas() if replicas is None else replicas


def _limits(retention: Retention) -> dict[str, Any]:
    return {
        "max_age": retention.max_age_seconds,
        "max_bytes": retention.max_bytes,
        # Full: refuse the writer (it retries, visibly) rather than forget what exactly-once needs.
        "discard": DiscardPolicy.NEW,
    }


async def _declare(js: JetStreamContext, config: StreamConfig) -> None:
    try:
        await js.add_stream(config)
    except nats.js.errors.BadRequestError:  # there already, with another configuration
        await js.update_stream(config)


async def publish(
    js: JetStreamContext, subject: str, message: Message, msg_id: str, *, attempts: int = 5
) -> None:
    """Publish to JetStream with `msg_id` as `Nats-Msg-Id`.

    A publish can time out and still be stored: retrying with the same id is safe because the
    stream's de-duplication window drops the second copy.
    """
    data = encode(message)
    for attempt in range(1, attempts + 1):
        try:
            await js.publish(subject, data, headers={"Nats-Msg-Id": msg_id}, timeout=5)
            return
        except (nats.errors.TimeoutError, nats.js.errors.NoStreamResponseError):
            if attempt == attempts:
                raise
            await asyncio.sleep(min(0.2 * 2**attempt, 3.0))


@dataclass(frozen=True)
class Incoming:
    """A message handed to a consumer's handler, with where it sits in its stream."""

    subject: str
    data: bytes
    attempt: int
    stream: str
    sequence: int
    headers: dict[str, str] | None = None


ALREADY_STORED = 10071  # JetStream: "wrong last sequence" — this subject already has its message


async def publish_once(js: JetStreamContext, subject: str, message: Message, msg_id: str) -> bool:
    """Publish the first and only message of a one-message subject; False if it was already there.

    `Nats-Msg-Id` de-duplicates only within the stream's window (two minutes); an agency retrying
    after a longer outage is caught by `Nats-Expected-Last-Subject-Sequence: 0` instead.
    """
    headers = {"Nats-Msg-Id": msg_id, "Nats-Expected-Last-Subject-Sequence": "0"}
    try:
        await js.publish(subject, encode(message), headers=headers, timeout=5)
    except nats.js.errors.APIError as exc:
        if exc.err_code == ALREADY_STORED:
            return False
        raise
    return True


async def publish_pipelined(
    nc: NATS,
    items: Sequence[tuple[str, bytes, dict[str, str]]],
    ack_wait: float = 10.0,
    *,
    handed_over: asyncio.Event | None = None,
) -> list[dict[str, Any] | BaseException]:
    """Publish (subject, data, headers) to JetStream, pipelined: all are sent, then the
    acknowledgements are awaited together. Returns, per item, JetStream's decoded answer (which
    may carry an `error`) or the exception. Messages from one connection keep their order.

    Replies come to one inbox of our own: nats-py's `publish_async` loses JetStream error replies
    (its callback raises instead of failing the future), which would hang on "already stored".
    The wait ends early when the connection is lost or replaced: the replies still missing were
    addressed to the old one and will never come (a resend is answered "already stored").
    `handed_over` is set once every item is written to the connection, before the
    acknowledgements: what is published after that comes after these items.
    """
    inbox = nc.new_inbox()
    loop = asyncio.get_running_loop()
    futures: list[asyncio.Future[bytes]] = [loop.create_future() for _ in items]

    async def on_reply(msg: Msg) -> None:
        index = int(msg.subject.rsplit(".", 1)[1])
        if not futures[index].done():
            futures[index].set_result(msg.data or _status_answer(msg, items[index][0]))

    reconnects = nc.stats["reconnects"]
    sub = await nc.subscribe(f"{inbox}.*", cb=on_reply)
    try:
        for index, (subject, data, headers) in enumerate(items):
            await nc.publish(subject, data, reply=f"{inbox}.{index}", headers=headers)
        if handed_over is not None:
            handed_over.set()
        deadline = loop.time() + ack_wait
        while not all(f.done() for f in futures) and (left := deadline - loop.time()) > 0:
            if not nc.is_connected or nc.stats["reconnects"] != reconnects:
                break
            await asyncio.wait(futures, timeout=min(left, 0.2))
    finally:
        with contextlib.suppress(nats.errors.Error):  # a closed connection has no subscription left
            await sub.unsubscribe()
    answers: list[dict[str, Any] | BaseException] = []
    for future in futures:
        if not future.done():
            future.cancel()
            answers.append(TimeoutError("no acknowledgement before the link was lost or in time"))
            continue
        answer = msgspec.json.decode(future.result() or b"{}")
        answers.append(answer if isinstance(answer, dict) else RuntimeError(f"unexpected reply: {answer!r}"))
    return answers


def _status_answer(msg: Msg, subject: str) -> bytes:
    """An error in JetStream's form for an empty status reply, so that the caller's logs say what
    happened: 503 is the server saying that nothing (no stream) takes the subject."""
    status = (msg.headers or {}).get("Status", "")
    if status == "503":
        description = f"no stream takes {subject} (no responders)"
    else:
        description = f"an empty answer (status {status or 'none'})"
    code = int(status) if status.isdigit() else None
    return msgspec.json.encode({"error": {"code": code, "description": description}})


async def publish_once_many(
    nc: NATS, items: Sequence[tuple[str, Message, str]], ack_wait: float = 10.0
) -> list[bool | BaseException]:
    """`publish_once` for a batch, pipelined. Returns, per item, True (stored), False (already
    there) or the error."""
    headers = [{"Nats-Msg-Id": msg_id, "Nats-Expected-Last-Subject-Sequence": "0"} for _, _, msg_id in items]
    answers = await publish_pipelined(
        nc,
        [(subject, encode(message), h) for (subject, message, _), h in zip(items, headers, strict=True)],
        ack_wait,
    )
    return [_publish_outcome(answer) for answer in answers]


def _publish_outcome(answer: dict[str, Any] | BaseException) -> bool | BaseException:
    if isinstance(answer, BaseException):
        return answer
    error = answer.get("error")
    if error is None:
        return True if "seq" in answer else RuntimeError(f"unexpected reply: {answer!r}")
    if error.get("err_code") == ALREADY_STORED:
        return False
    return RuntimeError(f"JetStream refused the post: {error.get('description')} ({error.get('err_code')})")


Handler = Callable[[Incoming], Awaitable[None]]


@dataclass(frozen=True)
class ConsumerSpec:
    stream: str
    durable: str
    filter_subject: str
    ack_wait: float = 15.0  # handlers take milliseconds; a killed consumer's messages return soon
    max_deliver: int = -1
    batch: int = 64
    deliver_policy: DeliverPolicy = DeliverPolicy.ALL


async def consume(js: JetStreamContext, spec: ConsumerSpec, handler: Handler, stop: asyncio.Event) -> None:
    """Pull messages until `stop` is set.

    The handler gets an `Incoming`. It returns to ack, raises `Retry` to be redelivered later, and a
    message that cannot be decoded (`msgspec.DecodeError`) is terminated (it would never succeed);
    any other exception is redelivered after a back-off, up to the consumer's `max_deliver`.
    """
    async for msgs in _batches(js, spec, stop):
        for msg in msgs:
            await _handle(msg, handler)


BatchHandler = Callable[[list[Incoming]], Awaitable[None]]


async def consume_batches(
    js: JetStreamContext, spec: ConsumerSpec, handler: BatchHandler, stop: asyncio.Event
) -> None:
    """Like `consume`, but the handler takes each fetched batch at once and all of it is acked after.

    For writers that make a batch durable in one transaction (one fsync) rather than one per
    message. The handler must skip what it cannot decode; if it raises, the batch comes back later.
    """
    async for msgs in _batches(js, spec, stop):
        try:
            await handler([_incoming(m) for m in msgs])
        except Exception:
            log.exception("bus.batch_failed", stream=spec.stream, size=len(msgs))
            for m in msgs:
                await m.nak(delay=2.0)
            continue
        for m in msgs:
            await m.ack()


async def _batches(js: JetStreamContext, spec: ConsumerSpec, stop: asyncio.Event) -> AsyncIterator[list[Msg]]:
    """Each non-empty fetch until `stop` is set, riding out timeouts and reconnections."""
    sub = await _subscribe(js, spec, stop)
    if sub is None:
        return
    try:
        while not stop.is_set():
            try:
                msgs = await sub.fetch(spec.batch, timeout=1)
            except (nats.errors.TimeoutError, TimeoutError):
                continue
            except (nats.errors.ConnectionClosedError, nats.js.errors.APIError):
                await asyncio.sleep(0.5)
                continue
            yield msgs
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()


def _incoming(msg: Msg) -> Incoming:
    meta = msg.metadata
    return Incoming(
        msg.subject, msg.data, meta.num_delivered or 1, meta.stream, meta.sequence.stream, msg.headers
    )


def consumer_config(spec: ConsumerSpec) -> ConsumerConfig:
    # Named with its filter: the server then takes the filter from the request subject too, which
    # lets NATS permissions pin a consumer to its subjects.
    return ConsumerConfig(
        name=spec.durable,
        durable_name=spec.durable,
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=spec.deliver_policy,
        ack_wait=spec.ack_wait,
        max_deliver=spec.max_deliver,
        max_ack_pending=1000,
        filter_subject=spec.filter_subject,
    )


async def ensure_consumer(js: JetStreamContext, spec: ConsumerSpec) -> None:
    """Create the durable consumer, or bring it to `spec` (for a reader not allowed to create it)."""
    await js.add_consumer(spec.stream, consumer_config(spec))


async def _subscribe(
    js: JetStreamContext, spec: ConsumerSpec, stop: asyncio.Event
) -> JetStreamContext.PullSubscription | None:
    """Bind to the consumer, creating it if missing and allowed (an agency node waits here until
    the hub side has made its consumers)."""
    config = consumer_config(spec)
    sub = None
    while sub is None and not stop.is_set():
        try:
            sub = await js.pull_subscribe(
                spec.filter_subject, durable=spec.durable, stream=spec.stream, config=config
            )
        except (nats.errors.TimeoutError, nats.js.errors.NotFoundError, nats.errors.ConnectionClosedError):
            await asyncio.sleep(0.5)
    return sub


def _subject_context(subject: str) -> dict[str, str]:
    """Every contract subject is `<kind>.<agency>.<post_id>…`: name them on each log line."""
    tokens = subject.split(".")
    return (
        {"agency": tokens[1], "post_id": tokens[2]}
        if len(tokens) >= 3 and not subject.startswith("$")
        else {}
    )


async def _handle(msg: Msg, handler: Handler) -> None:
    incoming = _incoming(msg)
    mlog = log.bind(subject=msg.subject, attempt=incoming.attempt, **_subject_context(msg.subject))
    try:
        await handler(incoming)
    except Retry as retry:
        mlog.warning("bus.retry", reason=str(retry))
        await msg.nak(delay=retry.delay)
        return
    except msgspec.DecodeError as exc:
        # Only a message that does not decode as the contract says (its body, or a subject outside
        # the contract: `UnknownSubject`) is poison: it would fail the same way every time. Any other
        # error, a KeyError included, is the handler's: the message is redelivered.
        mlog.error("bus.poison", error=str(exc))
        await msg.term()
        return
    except Exception:
        mlog.exception("bus.handler_failed")
        await msg.nak(delay=min(2.0**incoming.attempt, 60.0))
        return
    await msg.ack()
