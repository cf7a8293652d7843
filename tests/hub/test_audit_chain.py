"""The audit trail is tamper-evident: `relais audit verify` names the first broken entry."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from services.hub.store import append_event, open_store


def relais(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "relais.cli", *args], capture_output=True, text=True, check=False
    )


def make_trail(path: Path, entries: int = 30) -> None:
    db = open_store(path)
    for i in range(entries):
        append_event(
            db,
            source=f"POSTS:{i}",
            occurred_at=f"2026-11-21T10:{i:02d}:00Z",
            post_id=f"lyon-{i}",
            agency="lyon-part-dieu",
            event="received",
            actor="claire@lyon-part-dieu",
            detail={"text": f"Offre numéro {i:03d} à Lyon"},
        )
    assert not append_event(  # a redelivered bus message is recorded once
        db,
        source="POSTS:3",
        occurred_at="2026-11-21T10:03:00Z",
        post_id="lyon-3",
        agency="lyon-part-dieu",
        event="received",
        actor="claire@lyon-part-dieu",
    )
    db.close()


def test_an_intact_trail_verifies_and_exports(tmp_path: Path) -> None:
    make_trail(tmp_path / "hub.db")
    done = relais("audit", "verify", "--db", str(tmp_path / "hub.db"))
    assert done.returncode == 0 and "30 entries verified" in done.stdout
    lines = relais(
        "audit", "export", "--db", str(tmp_path / "hub.db"), "--since", "2026-11-21T10:25:00Z"
    ).stdout
    exported = [json.loads(line) for line in lines.splitlines()]
    assert [e["post_id"] for e in exported] == [f"lyon-{i}" for i in range(25, 30)]
    assert all(len(e["hash"]) == 64 for e in exported)
    table = relais("audit", "export", "--db", str(tmp_path / "hub.db"), "--format", "csv").stdout.splitlines()
    assert table[0].startswith("id,source,occurred_at") and len(table) == 31


def test_one_modified_byte_in_a_copy_of_the_database_is_caught(tmp_path: Path) -> None:
    make_trail(tmp_path / "hub.db")
    copy = tmp_path / "copy.db"
    shutil.copy(tmp_path / "hub.db", copy)
    raw = bytearray(copy.read_bytes())
    at = raw.index("Offre numéro 017".encode())
    raw[at + len("Offre numéro 01")] = ord("8")  # "017" becomes "018": one byte
    copy.write_bytes(bytes(raw))
    done = relais("audit", "verify", "--db", str(copy))
    assert done.returncode == 1
    assert "BROKEN at entry 18" in done.stdout and "changed" in done.stdout
    assert relais("audit", "verify", "--db", str(tmp_path / "hub.db")).returncode == 0


def test_a_dropped_entry_is_caught(tmp_path: Path) -> None:
    make_trail(tmp_path / "hub.db")
    with sqlite3.connect(tmp_path / "hub.db") as conn:
        conn.execute("delete from audit where id = 12")
    done = relais("audit", "verify", "--db", str(tmp_path / "hub.db"))
    assert done.returncode == 1 and "entry 12 is missing" in done.stdout
