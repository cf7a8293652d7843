"""The delivery side as real processes: NATS, the sandbox, the federation and the dispatcher.

Used by the dispatcher's tests and by `bench/bench_fanout.py`. The registry is a generated CSV
(`RELAIS_FEDERATION_CSV`) of many pages, and approvals are published straight to the bus, so
the dispatcher is exercised alone, at scale, against the networks' emulators.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import json
import sqlite3
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats

from relais.processes import ManagedProcess, nats_spec, service_spec, stop_all
from relais.system import write_sandbox_credentials
from services.dispatcher.settings import ledger_name
from services.dispatcher.shards import Shard
from services.intake.media_relay import media_bucket
from shared import bus
from shared.ids import utc_now
from shared.schemas import MediaRef, PostApproved, ReplyTo, Variant, decisions_subject
from tests.harness import eventually, free_port, http

COLUMNS = (
    "region,region_name,department,agency,agency_name,city,timezone,network,page,handle,credentials_ref"
).split(",")


@dataclass(frozen=True)
class Page:
    agency: str
    network: str
    page: str
    handle: str


def make_pages(count: int, networks: Iterable[str], agencies: int = 10) -> list[Page]:
    """`count` pages per network, spread over `agencies` agencies, with handles each emulator takes."""
    pages = []
    for number in range(count):
        agency = f"agence-{number % agencies:03d}"
        for network in networks:
            handle = {"linkedin": f"81{number:06d}", "facebook": f"10485{number:07d}"}.get(
                network, f"ft_p{number:04d}"
            )
            pages.append(Page(agency, network, f"p{number:04d}-{network}", handle))
    return pages


def write_registry(path: Path, pages: list[Page]) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for page in pages:
            writer.writerow(
                [
                    *(
                        "auvergne-rhone-alpes",
                        "Auvergne-Rhône-Alpes",
                        "69",
                        page.agency,
                        page.agency,
                        "Lyon",
                        "Europe/Paris",
                    ),
                    *(page.network, page.page, page.handle, f"sandbox/{page.page}"),
                ]
            )


class DeliveryFleet:
    """The processes; `shards` > 1 starts that many dispatchers, `dispatcher-1` … `dispatcher-N`
    (`RELAIS_DISPATCHER_SHARD=i/N`), each with its own ledger in the same data directory."""

    def __init__(self, root: Path, pages: list[Page], *, shards: int = 1, **dispatcher_env: str) -> None:
        self.root = root
        self.pages = pages
        self.data_dir = root / "var"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.csv_path = root / "registry.csv"
        write_registry(self.csv_path, pages)
        write_sandbox_credentials(self.csv_path, self.data_dir / "credentials.json")
        nats_port, monitor, sandbox, federation = (free_port() for _ in range(4))
        self.nats_url = f"nats://127.0.0.1:{nats_port}"
        self.sandbox_url = f"http://127.0.0.1:{sandbox}"
        self.base_env = base = {
            "RELAIS_DATA_DIR": str(self.data_dir),
            "RELAIS_NATS_URL": self.nats_url,
            "RELAIS_LOG_FORMAT": "json",
            "RELAIS_SANDBOX_URL": self.sandbox_url,
            "RELAIS_FEDERATION_CSV": str(self.csv_path),
        }
        specs = [
            nats_spec(self.data_dir, nats_port, monitor),
            service_spec("sandbox", "services.sandbox", base, sandbox, "RELAIS_SANDBOX_PORT"),
            service_spec("federation", "services.federation", base, federation, "RELAIS_FEDERATION_PORT"),
        ]
        self.processes = {spec.name: ManagedProcess(spec, self.data_dir / "logs") for spec in specs}
        self.dispatcher_env = dispatcher_env
        self.reshard(shards)

    def reshard(self, count: int, moves: str = "") -> list[str]:
        """Replace the dispatchers (stopped first, as a change of layout requires) by `count` shards,
        with `moves` as `RELAIS_DISPATCHER_SHARD_MOVES`; not started. Returns their names."""
        old = [name for name in self.processes if name.startswith("dispatcher")]
        stop_all([self.processes.pop(name) for name in old])
        self.layout = (count, moves)
        names = ["dispatcher"] if count == 1 else [f"dispatcher-{i}" for i in range(1, count + 1)]
        for number, name in enumerate(names, start=1):
            self.add_dispatcher(name, f"{number}/{count}" if count > 1 else "", moves)
        return names

    def add_dispatcher(self, name: str, shard: str, moves: str = "", data_dir: Path | None = None) -> str:
        """One more dispatcher process (not started), beside those running: shard `i/N` (empty: one
        dispatcher); `data_dir` apart from the fleet's is another machine's disk (its own ledgers,
        its own ledger locks) with the same credentials."""
        env = {**self.base_env, **self.dispatcher_env, "RELAIS_DISPATCHER_SHARD_MOVES": moves}
        if shard:
            env["RELAIS_DISPATCHER_SHARD"] = shard
        if data_dir is not None:
            data_dir.mkdir(parents=True, exist_ok=True)
            write_sandbox_credentials(self.csv_path, data_dir / "credentials.json")
            env["RELAIS_DATA_DIR"] = str(data_dir)
        spec = service_spec(name, "services.dispatcher", env, free_port(), "RELAIS_DISPATCHER_PORT")
        self.processes[name] = ManagedProcess(spec, self.data_dir / "logs")
        return name

    def start_alive(self, *names: str) -> None:
        """Start and wait until they answer (`/healthz`), not until ready: a fenced dispatcher waits."""
        for name in names:
            self.processes[name].start()
        for name in names:
            self.processes[name].wait_ready(timeout=30, alive_only=True)

    def readiness(self, name: str) -> tuple[int, dict[str, Any]]:
        url = self.processes[name].ready_url()
        assert url is not None
        status, body = http("GET", url)
        return status, body

    def set_sandbox_env(self, **env: str) -> None:
        spec = self.processes["sandbox"].spec
        spec.env.update(env)

    def start(self, *names: str) -> None:
        chosen = [self.processes[n] for n in (names or self.processes)]
        for process in chosen:
            process.start()
        for process in chosen:
            process.wait_ready(timeout=30)

    def stop(self) -> None:
        stop_all(list(self.processes.values()))

    def kill(self, name: str) -> None:
        self.processes[name].kill()

    def stop_only(self, *names: str) -> None:
        """A clean stop (SIGTERM) of these, the others left running."""
        stop_all([self.processes[name] for name in names])

    def approve(
        self,
        post_id: str,
        agency: str,
        pages: list[Page],
        texts: dict[str, list[str]],
        *,
        copy: int = 0,
        media: dict[str, tuple[bytes, str, str]] | None = None,
        replies: dict[str, ReplyTo] | None = None,
    ) -> None:
        """Publish one approval with a variant per page (`texts[page]` are its parts); `copy` > 0
        publishes it again under another message id, as a redelivery the bus cannot drop.
        `media` maps media ids to (bytes, content type, alt): put in the object store first, as
        an agency's relay does. `replies[page]` makes that page's variant a reply."""
        approved = self.approval(post_id, agency, pages, texts, media, replies)

        async def publish() -> None:
            nc = await nats.connect(self.nats_url)
            try:
                js = nc.jetstream()
                await bus.ensure_streams(js)  # the services may not have declared them yet
                if media:
                    await bus.ensure_media_bucket(js, agency)  # as the federation does on first contact
                for key, (data, _, _) in (media or {}).items():
                    await (await media_bucket(nc, agency)).put(key, data)
                subject = decisions_subject(agency, post_id, "approved")
                await bus.publish(js, subject, approved, f"{post_id}.approved.{copy}")
            finally:
                await nc.close()

        asyncio.run(publish())

    @staticmethod
    def approval(
        post_id: str,
        agency: str,
        pages: list[Page],
        texts: dict[str, list[str]],
        media: dict[str, tuple[bytes, str, str]] | None = None,
        replies: dict[str, ReplyTo] | None = None,
    ) -> PostApproved:
        """The hub's approval of a post with a variant per page (`texts[page]` are its parts)."""
        variants = [
            Variant(p.network, p.page, texts[p.page], agency=p.agency, reply_to=(replies or {}).get(p.page))
            for p in pages
        ]
        refs = [
            MediaRef(
                id=key, content_type=kind, size=len(data), sha256=hashlib.sha256(data).hexdigest(), alt=alt
            )
            for key, (data, kind, alt) in (media or {}).items()
        ]
        return PostApproved(
            post_id=post_id,
            agency=agency,
            occurred_at=utc_now(),
            approved_by="tests",
            variants=variants,
            media=refs,
        )

    def arm(self, network: str, account: str, mode: str, **extra: Any) -> None:
        status, body = http(
            "POST",
            f"{self.sandbox_url}/_sandbox/faults",
            {"network": network, "account": account, "mode": mode, **extra},
        )
        assert status == 201, body

    def received(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"{self.sandbox_url}/_sandbox/posts", timeout=30) as response:
            return list(json.loads(response.read())["posts"])

    def deliveries(self) -> dict[str, dict[str, Any]]:
        """The dispatchers' ledgers, read from their SQLite files (read-only): every shard's, each
        delivery as its owner's ledger has it (`ledger` names the file), if that ledger has it."""
        count, moves = self.layout
        layout = Shard.parse(f"1/{count}", moves)
        merged: dict[str, dict[str, Any]] = {}
        for database in sorted(self.data_dir.glob("dispatcher*.db")):
            for key, row in self.ledger(database.name).items():
                owner = ledger_name(layout.owner(row["network"], row["page"]))
                if key not in merged or database.name == owner:
                    merged[key] = row
        return merged

    def ledger(self, name: str = "dispatcher.db") -> dict[str, dict[str, Any]]:
        database = self.data_dir / name
        if not database.exists():
            return {}
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10) as db:
            db.row_factory = sqlite3.Row
            try:
                rows = db.execute(
                    "select key, network, page, status, remote_id, error, dead, attempts from deliveries"
                ).fetchall()
            except sqlite3.OperationalError:
                return {}
        return {row["key"]: dict(row) | {"ledger": name} for row in rows}

    def page_states(self) -> dict[str, str]:
        with sqlite3.connect(f"file:{self.data_dir / 'dispatcher.db'}?mode=ro", uri=True, timeout=10) as db:
            return {row[0]: row[1] for row in db.execute("select page, status from page_states")}

    def wait_settled(self, count: int, timeout: float = 120.0) -> dict[str, dict[str, Any]]:
        """Every one of `count` deliveries in a status nothing will change without a person."""

        def settled() -> dict[str, dict[str, Any]] | None:
            rows = self.deliveries()
            final = [r for r in rows.values() if r["status"] in ("published", "failed") or r["dead"]]
            return rows if len(rows) == count and len(final) == count else None

        return dict(eventually(settled, timeout=timeout, interval=0.5))

    def logs(self) -> str:
        return "\n".join(
            p.log_path.read_text(errors="replace") for p in self.processes.values() if p.log_path.exists()
        )
