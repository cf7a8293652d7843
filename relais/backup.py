"""`relais backup DIR` and `relais restore DIR`: the whole deployment's state, taken while it runs.

A backup holds, in a new folder (0700, every file 0600) with a manifest (what, when, the size and
SHA-256 of each file):
- `jetstream/consumers.json`: every durable consumer and its position, read first;
- `sqlite/*.db`: each database of the data directory (hub, dispatcher ledger, federation, and the
  outbox of every agency node sharing it), copied with SQLite's online backup API;
- `files/`: the keys (token signing key, secrets key), network credentials, NATS passwords and
  the agency nodes' uploaded media;
- `jetstream/<stream>.jsonl`: every stream, key-value bucket and object store, read last
  (`relais.jetstream_backup` says why this order loses nothing).

The sandbox's database is left out: it stands for the real networks, which keep their posts.

A restore goes into an empty deployment in two parts, because nats-server must start with the
restored passwords between them: `--part files` (databases, keys), then `--part bus` (streams,
buckets, consumers) once NATS runs; then the services start. The dispatcher's ledger is restored
with the rule of `services.dispatcher.store.mark_restored`: nothing it had not finished is sent
again before its page has been read back.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sqlite3
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import nats
from nats.aio.client import Client as NATS

from relais.jetstream_backup import RestoreError, dump_consumers, dump_streams, existing_streams, restore_bus
from relais.nats_auth import HUB_USER, url_for
from services.dispatcher.store import mark_restored
from services.dispatcher.store import open_store as open_ledger
from shared.bus import hub_client

__all__ = ["backup", "restore"]

FORMAT = 1
MANIFEST = "manifest.json"
# Databases that are not the deployment's own state.
_NOT_BACKED_UP = {"sandbox.db"}
# Files of the data directory, besides its databases: secrets and uploaded media.
_FILES = ("keys", "credentials.json", "nats/passwords.json", "media")
_CHUNK = 1 << 20


def backup(target: Path, data_dir: Path, nats_url: str | None) -> int:
    """Write a backup of `data_dir` (and of JetStream, unless `nats_url` is None) to `target`."""
    if target.exists() and any(target.iterdir()):
        print(f"relais: {target} is not empty; back up into a new folder", file=sys.stderr)
        return 2
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    target.chmod(0o700)
    started = time.time()
    manifest: dict[str, Any] = {"format": FORMAT, "started_at": _iso(started), "snapshot_at": started}
    try:
        _take(target, data_dir, nats_url, manifest)
    except RestoreError as exc:
        print(f"relais: backup failed: {exc}", file=sys.stderr)
        return 1
    print(f"backup written to {target}: {len(manifest['files'])} files", flush=True)
    return 0


def _take(target: Path, data_dir: Path, nats_url: str | None, manifest: dict[str, Any]) -> None:
    if nats_url is not None:
        (target / "jetstream").mkdir(mode=0o700)
        manifest["jetstream"] = asyncio.run(_dump_bus_part(nats_url, target / "jetstream", "consumers"))
    (target / "sqlite").mkdir(mode=0o700)
    databases = sorted(p for p in data_dir.glob("*.db") if p.name not in _NOT_BACKED_UP)
    for database in databases:
        _copy_database(database, target / "sqlite" / database.name)
    for name in _FILES:
        for source in _files_under(data_dir / name):
            copy = target / "files" / source.relative_to(data_dir)
            copy.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            _write_new(copy, source.read_bytes())
    if nats_url is not None:
        manifest["jetstream"] |= asyncio.run(_dump_bus_part(nats_url, target / "jetstream", "streams"))
    manifest["finished_at"] = _iso(time.time())
    manifest["files"] = [
        {"path": str(p.relative_to(target)), "size": p.stat().st_size, "sha256": _sha256(p)}
        for p in sorted(_files_under(target))
    ]
    _write_new(target / MANIFEST, json.dumps(manifest, indent=2).encode())


def restore(source: Path, data_dir: Path, nats_url: str | None, part: str, force: bool) -> int:
    """Restore `source` into `data_dir` (part `files`) and/or JetStream (part `bus`)."""
    try:
        manifest = _verified(source)
        if part in ("files", "all"):
            _restore_files(source, data_dir, manifest, force)
        if part in ("bus", "all"):
            if "jetstream" not in manifest:
                raise RestoreError("this backup has no JetStream part (taken with --no-bus)")
            if nats_url is None:
                raise RestoreError("no NATS to restore into")
            asyncio.run(_restore_bus_part(nats_url, source / "jetstream", manifest["jetstream"], force))
    except RestoreError as exc:
        print(f"relais: restore refused: {exc}", file=sys.stderr)
        return 1
    print(f"restored {part} from {source}", flush=True)
    return 0


def hub_url(data_dir: Path, configured: str) -> str:
    """The bus URL for the CLI: as configured, or, with no user in it, signed in as the hub's
    services are from the passwords `relais run` keeps in the data directory."""
    parts = urlsplit(configured)
    passwords = data_dir / "nats" / "passwords.json"
    if parts.username or not passwords.exists():
        return configured
    password = json.loads(passwords.read_text())[HUB_USER]
    return url_for(HUB_USER, password, parts.hostname or "127.0.0.1", parts.port or 4222)


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat()


def _files_under(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return [p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")] if path.is_dir() else []


def _write_new(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def _copy_database(source: Path, copy: Path) -> None:
    """SQLite's online backup: a consistent copy while writers go on (WAL included)."""
    os.close(os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    reader = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    writer = sqlite3.connect(copy)
    try:
        reader.backup(writer)
        writer.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    finally:
        writer.close()
        reader.close()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


async def _connect(url: str, name: str) -> NATS:
    """A short-lived connection that fails (rather than waits) when NATS cannot be reached."""
    client = hub_client(name)
    try:
        return await nats.connect(
            url, name=client.name, inbox_prefix=client.inbox_prefix, allow_reconnect=False, connect_timeout=5
        )
    except Exception as exc:
        raise RestoreError(f"cannot reach NATS: {type(exc).__name__}") from exc


async def _dump_bus_part(url: str, folder: Path, which: str) -> dict[str, Any]:
    nc = await _connect(url, "backup")
    try:
        streams = await existing_streams(nc)
        if which == "consumers":
            consumers = await dump_consumers(nc, streams)
            _write_new(folder / "consumers.json", json.dumps(consumers, indent=2).encode())
            return {"consumers": {s: len(c) for s, c in consumers.items()}}
        return {"streams": await dump_streams(nc, streams, folder)}
    finally:
        await nc.close()


def _verified(source: Path) -> dict[str, Any]:
    """The manifest, once every file it lists is there with its size and SHA-256."""
    try:
        manifest: dict[str, Any] = json.loads((source / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise RestoreError(f"no readable {MANIFEST} in {source}: {exc}") from exc
    if manifest.get("format") != FORMAT:
        raise RestoreError(f"unknown backup format {manifest.get('format')!r}")
    for entry in manifest["files"]:
        path = source / entry["path"]
        if not path.is_file() or path.stat().st_size != entry["size"] or _sha256(path) != entry["sha256"]:
            raise RestoreError(f"{entry['path']} is missing or differs from the manifest")
    return manifest


def _restore_files(source: Path, data_dir: Path, manifest: dict[str, Any], force: bool) -> None:
    entries = [e["path"] for e in manifest["files"]]
    targets = {
        path: data_dir / Path(path).relative_to(path.split("/")[0])
        for path in entries
        if path.startswith(("sqlite/", "files/"))
    }
    present = [str(t) for t in targets.values() if t.exists()]
    if present and not force:
        raise RestoreError(
            f"{data_dir} already holds data ({', '.join(present[:3])}…); restore into an empty "
            "deployment, or pass --force to replace it"
        )
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    for path, target in targets.items():
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        for stale in (target, target.with_name(target.name + "-wal"), target.with_name(target.name + "-shm")):
            stale.unlink(missing_ok=True)
        _write_new(target, (source / path).read_bytes())
    ledger = data_dir / "dispatcher.db"
    if ledger.exists():
        db = open_ledger(ledger)
        try:
            decisions = manifest.get("jetstream", {}).get("streams", {}).get("DECISIONS", {})
            snapshot_at = float(manifest["snapshot_at"])
            marked = mark_restored(db, snapshot_at, time.time(), int(decisions.get("last_seq", 0)))
        finally:
            db.close()
        print(f"dispatcher: {marked} unfinished deliveries will be reconciled before any new attempt")


async def _restore_bus_part(url: str, folder: Path, summary: dict[str, Any], force: bool) -> None:
    nc = await _connect(url, "restore")
    try:
        js = nc.jetstream()
        existing = await existing_streams(nc)
        if existing and not force:
            raise RestoreError(
                f"NATS already holds streams ({', '.join(sorted(existing)[:3])}…); restore into an "
                "empty deployment, or pass --force to replace them"
            )
        for name in existing:
            await js.delete_stream(name)
        streams = sorted(summary["streams"])
        saved = json.loads((folder / "consumers.json").read_text())
        await restore_bus(nc, folder, streams, {s: c for s, c in saved.items() if s in streams})
    finally:
        await nc.close()
