"""`relais backup DIR` and `relais restore DIR`: the whole deployment's state, taken while it runs.

A backup holds, in a new folder (0700, every file 0600) with a manifest (what, when, the size and
SHA-256 of each file):
- `jetstream/consumers.json`: every durable consumer and its position, read first;
- `volumes/<name>/`: everything of the data directory (or of each named folder, `--volume
  NAME=PATH`, where services keep their own, as compose's volumes): each SQLite database (hub,
  dispatcher ledger, federation, every agency outbox) copied with SQLite's online backup API, and
  every other file as it is: the keys (token signing key, secrets key), network credentials, NATS
  passwords, the agency nodes' uploaded media;
- `jetstream/<stream>.jsonl`: every stream, key-value bucket and object store, read last
  (`relais.jetstream_backup` says why this order loses nothing).

Left out: the sandbox's database (it stands for the real networks, which keep their posts), logs,
and the JetStream store's own files (`jetstream/`, taken through the API instead).

A restore goes into an empty deployment in two parts, because nats-server must start with the
restored passwords between them: `--part files` (databases, keys), then `--part bus` (streams,
buckets, consumers) once NATS runs; then the services start. Run as root (compose's restore job,
into fresh volumes), `--owner UID` hands what it wrote to the services' user. The dispatcher's
ledger is restored with the rule of `services.dispatcher.store.mark_restored`: nothing it had not
finished is sent again before its page has been read back.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import sqlite3
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import nats
from nats.aio.client import Client as NATS

from relais.deployment import hand_over
from relais.jetstream_backup import BackupError, dump_consumers, dump_streams, existing_streams, restore_bus
from relais.nats_auth import HUB_USER, url_for
from services.dispatcher.store import mark_restored
from services.dispatcher.store import open_store as open_ledger
from shared.bus import hub_client, server_options

__all__ = ["backup", "restore"]

FORMAT = 1
MANIFEST = "manifest.json"
DEFAULT_VOLUME = "data"
_SKIPPED_FILES = {"sandbox.db"}  # the networks' stand-in: they keep their own posts
_SKIPPED_FOLDERS = {"logs", "jetstream"}  # logs; the NATS store, taken through JetStream's API
_SKIPPED_SUFFIXES = ("-wal", "-shm", "-journal", ".part")  # a database's copy holds its WAL
_SQLITE_HEADER = b"SQLite format 3\x00"
_CHUNK = 1 << 20


def backup(target: Path, volumes: dict[str, Path], nats_url: str | None) -> int:
    """Write a backup of `volumes` (name → folder; and of JetStream, unless `nats_url` is None)
    to `target`."""
    if target.exists() and any(target.iterdir()):
        print(f"relais: {target} is not empty; back up into a new folder", file=sys.stderr)
        return 2
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    target.chmod(0o700)
    started = time.time()
    manifest: dict[str, Any] = {"format": FORMAT, "started_at": _iso(started), "snapshot_at": started}
    try:
        _take(target, volumes, nats_url, manifest)
    except BackupError as exc:
        print(f"relais: backup failed: {exc}", file=sys.stderr)
        return 1
    print(f"backup written to {target}: {len(manifest['files'])} files", flush=True)
    return 0


def _take(target: Path, volumes: dict[str, Path], nats_url: str | None, manifest: dict[str, Any]) -> None:
    if nats_url is not None:
        (target / "jetstream").mkdir(mode=0o700)
        manifest["jetstream"] = asyncio.run(_dump_bus_part(nats_url, target / "jetstream", "consumers"))
    manifest["volumes"] = sorted(volumes)
    for name, folder in volumes.items():
        if not folder.is_dir():
            raise BackupError(f"no folder {folder} for volume {name}")
        for source in _backed_up(folder):
            copy = target / "volumes" / name / source.relative_to(folder)
            copy.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if _is_database(source):
                _copy_database(source, copy)
            else:
                _write_new(copy, source.read_bytes())
    if nats_url is not None:
        manifest["jetstream"] |= asyncio.run(_dump_bus_part(nats_url, target / "jetstream", "streams"))
    manifest["finished_at"] = _iso(time.time())
    manifest["files"] = [
        {"path": str(p.relative_to(target)), "size": p.stat().st_size, "sha256": _sha256(p)}
        for p in sorted(_files_under(target))
    ]
    _write_new(target / MANIFEST, json.dumps(manifest, indent=2).encode())


def restore(
    source: Path,
    volumes: dict[str, Path],
    nats_url: str | None,
    part: str,
    force: bool,
    owner: int | None = None,
) -> int:
    """Restore `source` into `volumes` (name → folder; part `files`) and/or JetStream (part `bus`).
    With `owner`, when run as root, every folder restored into is handed to that user (compose's
    restore job runs as root: fresh volumes belong to root, the services run as their own user)."""
    try:
        manifest = _verified(source)
        if part in ("files", "all"):
            _restore_files(source, volumes, manifest, force)
            if owner is not None:
                hand_over([volumes[name] for name in manifest["volumes"]], owner)
        if part in ("bus", "all"):
            if "jetstream" not in manifest:
                raise BackupError("this backup has no JetStream part (taken with --no-bus)")
            if nats_url is None:
                raise BackupError("no NATS to restore into")
            asyncio.run(_restore_bus_part(nats_url, source / "jetstream", manifest["jetstream"], force))
    except BackupError as exc:
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


def parse_volumes(pairs: list[str] | None, data_dir: Path) -> dict[str, Path]:
    """`NAME=PATH` options as name → folder; none: the data directory alone, as `data`."""
    if not pairs:
        return {DEFAULT_VOLUME: data_dir}
    volumes: dict[str, Path] = {}
    for pair in pairs:
        name, sep, path = pair.partition("=")
        if not sep or not name or "/" in name or name in volumes:
            raise ValueError(f"--volume takes NAME=PATH, each name once: {pair!r}")
        volumes[name] = Path(path)
    return volumes


def _files_under(path: Path) -> list[Path]:
    return [p for p in path.rglob("*") if p.is_file()]


def _backed_up(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in _files_under(folder)
        if p.name not in _SKIPPED_FILES
        and not p.name.endswith(_SKIPPED_SUFFIXES)
        and not _SKIPPED_FOLDERS & set(p.relative_to(folder).parts[:-1])
    )


def _is_database(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(len(_SQLITE_HEADER)) == _SQLITE_HEADER


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
            **server_options(url),  # a cluster's nodes, TLS
            name=client.name,
            inbox_prefix=client.inbox_prefix,
            allow_reconnect=False,
            connect_timeout=5,
        )
    except Exception as exc:
        raise BackupError(f"cannot reach NATS: {type(exc).__name__}") from exc


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
        raise BackupError(f"no readable {MANIFEST} in {source}: {exc}") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"unknown backup format {manifest.get('format')!r}")
    for entry in manifest["files"]:
        path = source / entry["path"]
        if not path.is_file() or path.stat().st_size != entry["size"] or _sha256(path) != entry["sha256"]:
            raise BackupError(f"{entry['path']} is missing or differs from the manifest")
    return manifest


def _restore_files(source: Path, volumes: dict[str, Path], manifest: dict[str, Any], force: bool) -> None:
    missing = sorted(set(manifest["volumes"]) - set(volumes))
    if missing:
        raise BackupError(f"name where volume {missing[0]} goes: --volume {missing[0]}=PATH")
    targets: dict[str, Path] = {}
    for entry in manifest["files"]:
        parts = Path(entry["path"]).parts
        if parts[0] == "volumes":
            targets[entry["path"]] = volumes[parts[1]].joinpath(*parts[2:])
    present = [str(t) for t in targets.values() if t.exists()]
    if present and not force:
        raise BackupError(
            f"the target already holds data ({', '.join(present[:3])}…); restore into an empty "
            "deployment, or pass --force to replace it"
        )
    for path, target in targets.items():
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        for stale in (target, target.with_name(target.name + "-wal"), target.with_name(target.name + "-shm")):
            stale.unlink(missing_ok=True)
        _write_new(target, (source / path).read_bytes())
    # Every shard's ledger (`dispatcher.db`, `dispatcher-shard-2.db`, …): services/dispatcher/shards.py
    for ledger in (t for t in targets.values() if re.fullmatch(r"dispatcher(-shard-\d+)?\.db", t.name)):
        _mark_ledger(ledger, manifest)


def _mark_ledger(ledger: Path, manifest: dict[str, Any]) -> None:
    decisions = manifest.get("jetstream", {}).get("streams", {}).get("DECISIONS", {})
    db = open_ledger(ledger)
    try:
        marked = mark_restored(
            db, float(manifest["snapshot_at"]), time.time(), int(decisions.get("last_seq", 0))
        )
    finally:
        db.close()
    print(f"dispatcher: {marked} unfinished deliveries will be reconciled before any new attempt")


async def _restore_bus_part(url: str, folder: Path, summary: dict[str, Any], force: bool) -> None:
    nc = await _connect(url, "restore")
    try:
        js = nc.jetstream()
        existing = await existing_streams(nc)
        if existing and not force:
            raise BackupError(
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
