"""Files only this process's user may read: databases (password hashes, CSRF tokens, outboxes),
keys, logs and the NATS store all live under the data directory.

Every entry point calls `keep_files_private` first: from then on every file and directory the
process (or a child it starts, such as nats-server) creates is 0600 / 0700, whatever library
creates it (SQLite's -wal and -shm files included).
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

__all__ = ["keep_files_private", "read_private_json", "write_private"]

PRIVATE_UMASK = 0o077


def keep_files_private(data_dir: Path) -> None:
    """Owner-only modes for everything created from now on; an existing data directory of ours is
    closed to others too (one made by an earlier version may be 0755)."""
    os.umask(PRIVATE_UMASK)
    try:
        info = data_dir.stat()
    except FileNotFoundError:
        return  # created 0700 by whoever needs it first, under this umask
    if info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) & 0o077:
        data_dir.chmod(0o700)


def write_private(path: Path, data: bytes) -> None:
    """Replace `path` (mode 0600) all at once: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.part")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(partial, path)


def read_private_json(path: Path) -> dict[str, Any] | None:
    """The JSON object of a secrets file ops wrote (webhook secrets, OAuth apps), or None when it does
    not exist; ValueError for one that is not an object. The error names the file, never its content."""
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a readable JSON file ({type(exc).__name__})") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: must hold a JSON object")
    return raw
