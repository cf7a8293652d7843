"""Inbox ingestion by webhooks: items pushed to the hub and stored on the bus, per second.

Run with `python -m bench.bench_inbox_webhooks` (or `python -m bench`). It starts NATS, the
federation with a generated registry of 1,000 Facebook Pages and the hub as real processes, then
pushes Page comments as Meta does: signed notifications of 10 Pages × 10 comments (a seeded mix of
citizens' questions, one in five with an identifier to mask), 8 calls at a time, each comment on a
page of the registry; one notification in ten is pushed a second time (Meta delivers at least
once). Each call is answered once JetStream stored its items. It prints one line,

    inbox_webhooks pages=1000 items=… per_s=… duplicates=0 p50_ms=… p99_ms=…

`items` is the distinct comments pushed, `per_s` those stored per second (from the first call to
the last answer), `duplicates` the messages the INBOX stream holds beyond one per comment, and the
percentiles the calls' answer times. Exits non-zero on a duplicate, a missing item, a refused call,
or under 200 items/s (issue #15).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere: `tests` and `shared` live at the root

import aiohttp  # noqa: E402
import nats  # noqa: E402

from relais.processes import ManagedProcess, nats_spec, service_spec  # noqa: E402
from tests.dispatcher.fleet import make_pages, write_registry  # noqa: E402
from tests.harness import free_port  # noqa: E402

PAGES = 1000
NOTIFICATIONS = 200  # × 100 comments
PAGES_PER_NOTIFICATION = 10
COMMENTS_PER_PAGE = 10
RESENT_EVERY = 10
CONCURRENCY = 8
TARGET_PER_S = 200.0
SEED = 15
APP_SECRET = "bench-app-secret"

QUESTIONS = [
    "Bonjour, le job dating de jeudi est-il ouvert à tous ?",
    "Quels sont les horaires de l'agence ? Ouvert de 9h à 17h ?",
    "Merci pour l'atelier CV de mardi à 14h30, très utile !",
    "مرحبا، متى يفتح باب التسجيل في برنامج إدماج؟ شكرا",
    "L'offre n° 184BKZN est-elle encore ouverte ?",
]
IDENTIFIERS = [
    "mon numéro de sécu est 2 95 10 99 126 111 93",
    "appelez-moi au 06 12 34 56 78",
    "écrivez à a.b@example.fr",
]


def notifications(handles: list[str]) -> list[bytes]:
    draw = random.Random(SEED)
    bodies = []
    for number in range(NOTIFICATIONS):
        entries = []
        for slot in range(PAGES_PER_NOTIFICATION):
            page_id = handles[(number * PAGES_PER_NOTIFICATION + slot) % len(handles)]
            post_id = f"{page_id}_{number}"
            changes = []
            for comment in range(COMMENTS_PER_PAGE):
                text = draw.choice(QUESTIONS)
                if draw.random() < 0.2:
                    text += " " + draw.choice(IDENTIFIERS)
                value = {
                    "from": {"id": str(draw.randrange(10**9)), "name": "Camille"},
                    "item": "comment",
                    "verb": "add",
                    "comment_id": f"{number}{slot:02d}_{comment}",
                    "post_id": post_id,
                    "parent_id": post_id,
                    "message": text,
                    "created_time": 1764928800,
                }
                changes.append({"field": "feed", "value": value})
            entries.append({"id": page_id, "time": 1764928800, "changes": changes})
        bodies.append(json.dumps({"object": "page", "entry": entries}).encode())
    return bodies


def signed(body: bytes) -> dict[str, str]:
    digest = hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}


async def wait_loaded(session: aiohttp.ClientSession, url: str, handle: str) -> None:
    """Until the hub's copy of the registry holds the last page (a probe comment, counted apart)."""
    probe = json.dumps(
        {
            "object": "page",
            "entry": [
                {
                    "id": handle,
                    "changes": [
                        {
                            "field": "feed",
                            "value": {
                                "item": "comment",
                                "verb": "add",
                                "comment_id": "probe",
                                "post_id": "p",
                            },
                        }
                    ],
                }
            ],
        }
    ).encode()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        async with session.post(url, data=probe, headers=signed(probe)) as response:
            if response.status == 200 and (await response.json())["unknown_pages"] == 0:
                return
        await asyncio.sleep(0.5)
    raise RuntimeError("the hub never loaded the registry")


async def push_all(url: str, bodies: list[bytes], last_handle: str) -> tuple[float, list[float], int]:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for number, body in enumerate(bodies):
        queue.put_nowait(body)
        if number % RESENT_EVERY == 0:
            queue.put_nowait(body)
    latencies: list[float] = []
    refused = 0

    async def sender(session: aiohttp.ClientSession) -> None:
        nonlocal refused
        while not queue.empty():
            body = queue.get_nowait()
            started = time.perf_counter()
            async with session.post(url, data=body, headers=signed(body)) as response:
                await response.read()
                refused += response.status != 200
            latencies.append(time.perf_counter() - started)

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        await wait_loaded(session, url, last_handle)
        start = time.perf_counter()
        await asyncio.gather(*(sender(session) for _ in range(CONCURRENCY)))
        return time.perf_counter() - start, latencies, refused


async def stored(nats_url: str) -> int:
    nc = await nats.connect(nats_url)
    try:
        return int((await nc.jetstream().stream_info("INBOX")).state.messages)
    finally:
        await nc.close()


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="relais-bench-webhooks-") as tmp:
        root = Path(tmp)
        data_dir = root / "var"
        (data_dir / "keys").mkdir(parents=True)
        pages = make_pages(PAGES, ("facebook",), agencies=100)
        csv_path = root / "registry.csv"
        write_registry(csv_path, pages)
        secrets_file = data_dir / "keys" / "webhook-secrets.json"
        secrets_file.write_text(json.dumps({"meta": {"app_secret": APP_SECRET, "verify_token": "v"}}))
        nats_port, monitor, federation, hub = (free_port() for _ in range(4))
        nats_url = f"nats://127.0.0.1:{nats_port}"
        env = {
            "RELAIS_DATA_DIR": str(data_dir),
            "RELAIS_NATS_URL": nats_url,
            "RELAIS_LOG_FORMAT": "json",
            "RELAIS_FEDERATION_CSV": str(csv_path),
        }
        specs = [
            nats_spec(data_dir, nats_port, monitor),
            service_spec("federation", "services.federation", env, federation, "RELAIS_FEDERATION_PORT"),
            service_spec("hub", "services.hub", env, hub, "RELAIS_HUB_PORT"),
        ]
        processes = [ManagedProcess(spec, data_dir / "logs") for spec in specs]
        try:
            for process in processes:
                process.start()
                process.wait_ready(timeout=60)
            bodies = notifications([page.handle for page in pages])
            url = f"http://127.0.0.1:{hub}/webhooks/meta"
            elapsed, latencies, refused = asyncio.run(push_all(url, bodies, pages[-1].handle))
            held = asyncio.run(stored(nats_url)) - 1  # the probe
        finally:
            for process in reversed(processes):
                process.stop()
    items = NOTIFICATIONS * PAGES_PER_NOTIFICATION * COMMENTS_PER_PAGE
    per_s = items / elapsed
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[int(len(ordered) * 0.99) - 1] * 1000
    duplicates = max(0, held - items)
    print(
        f"inbox_webhooks pages={PAGES} items={items} per_s={per_s:.0f} duplicates={duplicates} "
        f"p50_ms={p50:.0f} p99_ms={p99:.0f}",
        flush=True,
    )
    ok = duplicates == 0 and held == items and refused == 0 and per_s >= TARGET_PER_S
    if not ok:
        print(f"# stored={held} refused={refused}", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
