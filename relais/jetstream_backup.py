"""JetStream's part of a backup: every stream (the contract's, key-value buckets, object stores)
with its configuration and messages, and every durable consumer with its position.

nats-py has no snapshot helper, so this reads and writes through the JetStream API itself:
messages one by one (`STREAM.MSG.GET`, subject, headers and sequence kept), restored by
republishing them in order into a stream created with `first_seq` set to the first message's
sequence. Why that is enough:

- Sequence numbers must not move: the hub's audit records each bus message once by
  `<stream>:<sequence>`, so a shifted sequence would record a redelivered message twice, or drop a
  new one whose sequence an old entry already holds. The contract's streams never have holes
  (`deny_delete`, limits that refuse new writes; only age forgets, from the front), so
  republishing from `first_seq` gives every message its old sequence; restore checks each
  acknowledged sequence and stops on the first that differs. Key-value buckets and object stores
  do have holes (a value replaces the previous one), so theirs may shift: their durable consumers
  (an agency node's pages and revoked tokens, each key's last value) start over instead, and their
  readers take each current value again.
- `Nats-Expected-Last-Subject-Sequence: 0` still holds: a post's subject has its message again
  after the restore, so an agency resending it is still refused as already stored. The `Nats-Expected-*`
  headers were preconditions of the first publish and are not sent again; `Nats-Msg-Id` is kept
  (a message the window would drop as a duplicate is sent again without it).
- A durable consumer is created with its saved configuration (so the services' own declarations
  match it) and brought to its acknowledged floor by fetching and acknowledging what lies below
  it. Positions are read *before* the databases are copied and messages after, so a restored
  service may see again what it handled just before the backup (every consumer handles
  redeliveries), but never misses a message, nor does the stream miss one a database says was sent.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import nats.errors
from nats.aio.client import Client as NATS

from services.dispatcher.fence import BUCKET as FENCE_BUCKET
from shared.bus import publish_pipelined
from shared.schemas import STREAMS

__all__ = ["BackupError", "dump_consumers", "dump_streams", "existing_streams", "restore_bus"]

_API = "$JS.API"
_BATCH = 256
NO_MESSAGE = 10037  # JetStream: "no message found"
_DROPPED_HEADERS = ("Nats-Expected-",)
# Liveness, not data: the dispatchers' leases name the processes of the deployment backed up, and
# restored they would keep the restored dispatchers waiting for their TTL (fence.py).
NOT_BACKED_UP = frozenset({f"KV_{FENCE_BUCKET}"})


class BackupError(Exception):
    """A backup or restore that cannot go on without losing what exactly-once needs."""


async def _api(nc: NATS, subject: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    reply = await nc.request(f"{_API}.{subject}", json.dumps(body or {}).encode(), timeout=10)
    answer: dict[str, Any] = json.loads(reply.data or b"{}")
    return answer


async def existing_streams(nc: NATS) -> list[str]:
    """Every stream that holds data (`NOT_BACKED_UP` left out)."""
    names: list[str] = []
    while True:
        page = await _api(nc, "STREAM.NAMES", {"offset": len(names)})
        names += page.get("streams") or []
        if len(names) >= page.get("total", 0) or not page.get("streams"):
            return [name for name in names if name not in NOT_BACKED_UP]


async def dump_consumers(nc: NATS, streams: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Every durable consumer's configuration and acknowledged floor, per stream."""
    consumers: dict[str, list[dict[str, Any]]] = {}
    for stream in streams:
        listed: list[dict[str, Any]] = []  # ephemeral ones too (key-value watchers): the pages' offsets
        while True:
            page = await _api(nc, f"CONSUMER.LIST.{stream}", {"offset": len(listed)})
            batch = page.get("consumers") or []
            listed += batch
            if not batch or len(listed) >= page.get("total", 0):
                break
        found = [
            {"config": c["config"], "ack_floor": c["ack_floor"]["stream_seq"]}
            for c in listed
            if c["config"].get("durable_name")
        ]
        consumers[stream] = found
    return consumers


async def dump_streams(nc: NATS, streams: list[str], folder: Path) -> dict[str, dict[str, Any]]:
    """Write each stream to `folder/<stream>.jsonl` (its configuration, then one message a line);
    returns what the manifest says of each."""
    summary: dict[str, dict[str, Any]] = {}
    for stream in streams:
        info = await _api(nc, f"STREAM.INFO.{stream}")
        state = info["state"]
        path = folder / f"{stream}.jsonl"
        count = 0
        with _private(path) as out:
            out.write(json.dumps({"config": info["config"], "state": state}) + "\n")
            first = state["first_seq"] if state["messages"] else state["last_seq"] + 1  # empty: none to read
            for seq in range(first, state["last_seq"] + 1):
                answer = await _api(nc, f"STREAM.MSG.GET.{stream}", {"seq": seq})
                error = answer.get("error")
                if error and error.get("err_code") == NO_MESSAGE:  # a replaced value, or expired meanwhile
                    continue
                if error:
                    raise BackupError(f"stream {stream}: message {seq}: {error.get('description')}")
                message = answer["message"]
                record = {
                    "seq": message["seq"],
                    "subject": message["subject"],
                    "data": message.get("data", ""),
                }
                if message.get("hdrs"):
                    record["hdrs"] = message["hdrs"]
                out.write(json.dumps(record) + "\n")
                count += 1
        summary[stream] = {"messages": count, "first_seq": state["first_seq"], "last_seq": state["last_seq"]}
    return summary


def _private(path: Path) -> TextIO:
    """A new text file only its owner may read."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8")


def _records(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            yield json.loads(line)


def _headers(raw: str | None) -> dict[str, str]:
    """A stored message's NATS header block, without the first publish's preconditions."""
    if not raw:
        return {}
    lines = base64.b64decode(raw).decode().split("\r\n")[1:]  # first line: NATS/1.0
    headers: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if sep and not name.startswith(_DROPPED_HEADERS):
            headers[name.strip()] = value.strip()
    return headers


async def restore_bus(nc: NATS, folder: Path, streams: list[str], consumers: dict[str, Any]) -> None:
    for stream in streams:
        await _restore_stream(nc, folder / f"{stream}.jsonl")
    for stream, durables in consumers.items():
        for consumer in durables:
            # A position is a sequence: where sequences moved, the consumer starts over (a
            # key-value consumer reads each key's current value again; missing one would leave an
            # agency node without a page, or accepting a revoked token).
            floor = consumer["ack_floor"] if stream in STREAMS else 0
            await _restore_consumer(nc, stream, consumer["config"], floor)


async def _restore_stream(nc: NATS, path: Path) -> None:
    records = _records(path)
    head = next(records)
    config, state = dict(head["config"]), head["state"]
    name = config["name"]
    messages = list(records)
    # An empty stream that had messages continues after its last sequence, as it did.
    config["first_seq"] = messages[0]["seq"] if messages else state["last_seq"] + 1
    created = await _api(nc, f"STREAM.CREATE.{name}", config)
    if "error" in created:
        raise BackupError(f"stream {name}: {created['error'].get('description')}")
    exact = name in STREAMS  # the contract's streams keep their sequences (see the module's doc)
    for start in range(0, len(messages), _BATCH):
        batch = messages[start : start + _BATCH]
        items = [
            (m["subject"], base64.b64decode(m.get("data") or ""), _headers(m.get("hdrs"))) for m in batch
        ]
        answers = await publish_pipelined(nc, items)
        for message, item, answer in zip(batch, items, answers, strict=True):
            if isinstance(answer, dict) and answer.get("duplicate"):  # an id seen again after its window
                headers = {k: v for k, v in item[2].items() if k != "Nats-Msg-Id"}
                answer = (await publish_pipelined(nc, [(item[0], item[1], headers)]))[0]
            if isinstance(answer, BaseException) or "error" in answer:
                raise BackupError(f"stream {name}: message {message['seq']} refused: {answer}")
            if exact and answer.get("seq") != message["seq"]:
                raise BackupError(
                    f"stream {name}: message {message['seq']} restored as {answer.get('seq')}: "
                    "sequences would shift (the audit records messages by sequence)"
                )


async def _restore_consumer(nc: NATS, stream: str, config: dict[str, Any], ack_floor: int) -> None:
    durable = config["durable_name"]
    created = await _api(
        nc,
        f"CONSUMER.CREATE.{stream}.{durable}",
        {"stream_name": stream, "config": config, "action": "create"},
    )
    if "error" in created:
        raise BackupError(f"consumer {stream}/{durable}: {created['error'].get('description')}")
    if ack_floor <= 0:
        return
    js = nc.jetstream()
    sub = await js.pull_subscribe_bind(durable=durable, stream=stream)
    try:
        while True:
            try:
                msgs = await sub.fetch(_BATCH, timeout=1)
            except (nats.errors.TimeoutError, TimeoutError):
                return  # nothing more below the floor
            for msg in msgs:
                if msg.metadata.sequence.stream > ack_floor:
                    await msg.nak()  # at or past the floor: its service gets it now
                else:
                    await msg.ack()
            if any(m.metadata.sequence.stream > ack_floor for m in msgs):
                return
    finally:
        await nc.flush()
        await sub.unsubscribe()
