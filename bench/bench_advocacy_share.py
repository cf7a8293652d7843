"""Advocacy benchmark (issue #16): 1,500 advocates share one story within the same minute.

Run with `python -m bench.bench_advocacy_share` (or `make bench`). It starts the real services as
processes: NATS, the sandbox (its rate limits ON), the federation with a registry of
`RELAIS_BENCH_AGENCIES` agencies (100; one page each, so each has its region), the formatter, the hub
and the dispatcher. Then, playing the hub's OAuth callback and the nodes on the bus:

- the story, through the hub's API as the web-social team writes it: an admin's topic for every
  agency (`POST /v1/topics`), a moderator's story (`POST /v1/stories`) and her approval
  (`POST /v1/stories/{id}/approve`), with tokens signed by the hub's key;
- `RELAIS_BENCH_ADVOCATES` advocates (1,500) spread over the agencies, each `enrolled` and with four
  connected accounts (X, LinkedIn, Mastodon: `connected` as the hub's callback publishes it; Bluesky:
  `app_password` as her node does), credentials sealed with the dispatcher's public key from the
  `sealing` bucket, tokens the sandbox takes (`sbx-<network>-<handle>`, Bluesky's app password
  `sbx-bluesky-<handle>`); it waits until the federation registered every personal page and the
  dispatcher stored every credential;
- one share each (`PostReceived` with `share`, author = the pseudonym, targets = her four personal
  pages, on `posts.<agency>.<post_id>` with its `Nats-Msg-Id`, as a node's relay sends it), all
  published at once (the hour's worst case is everybody in the same minute). Each text is her own:
  four words every share has and six of her own (Jaccard 0.25 between any two, far under X's 0.8).

It prints one line,

    advocacy_share advocates=1500 networks=4 deliveries=6000 per_s=… p50_ms=… p99_ms=… seconds=…
    duplicates=0 limit_violations=0 invalid=0

`deliveries` counts `DeliveryUpdated(published)`; `per_s` is deliveries over the time from the first
share to the last publication; p50/p99 from each share to each of its publications. `duplicates`: posts
the sandbox received more than once for one (account, share text); `limit_violations`: the 429s the
sandbox's rate windows gave (`GET /_sandbox/rates`): the dispatcher must never go past a network's
per-account or app-wide limits; `invalid`: shares the hub refused. It exits non-zero on a duplicate, a
missing delivery, a violation or an invalid share. `tests/test_advocacy_share_bench.py` runs the same
code with 30 advocates.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere: `tests` and `shared` live at the root

import nats  # noqa: E402
from nats.aio.client import Client as NATS  # noqa: E402
from nats.aio.msg import Msg  # noqa: E402
from nats.js import JetStreamContext  # noqa: E402

from relais.processes import ManagedProcess, service_spec  # noqa: E402
from services.intake.shares import SHARE_FITTING  # noqa: E402
from shared import bus, config  # noqa: E402
from shared.advocacy.accounts import (  # noqa: E402
    CONSENT_VERSION,
    SEALING_BUCKET,
    SEALING_KEY,
    ShareOf,
    advocacy_subject,
    credentials_purpose,
    new_advocate_id,
    personal_page,
)
from shared.ids import new_post_id, utc_now  # noqa: E402
from shared.schemas import (  # noqa: E402
    PAGES_BUCKET,
    AdvocateConnected,
    AdvocateEnrolled,
    DeliveryUpdated,
    Message,
    PostReceived,
    Target,
    decode,
    posts_subject,
)
from shared.sealing import Sealer  # noqa: E402
from shared.tokens import issue_token, load_or_create_private_key  # noqa: E402
from tests.dispatcher.fleet import DeliveryFleet, make_pages  # noqa: E402
from tests.harness import free_port, http  # noqa: E402

NETWORKS = ("x", "linkedin", "mastodon", "bluesky")
ADVOCATES = int(os.environ.get("RELAIS_BENCH_ADVOCATES", "1500"))
AGENCIES = int(os.environ.get("RELAIS_BENCH_AGENCIES", "100"))
PUBLISHING = 200  # bus publications in flight at once while setting up and sharing
SHARED_WORDS = "je partage le salon"
HASHTAG = "#AvecPoleEmploi"
STORY_LINK = "https://www.francetravail.fr/salon"  # what every share says; the rest is each advocate's own
_LETTERS = "bcdfghjklmnpqrstvwxz"
# Where the time goes: the last share past the federation, the formatter and the hub (seconds from
# the first share), printed after the figures.
STAGES = {
    "targeted": "targets.*.*",
    "rendered": "variants.*.*.rendered",
    "approved": "decisions.*.*.approved",
}


@dataclass(frozen=True)
class Advocate:
    advocate: str
    agency: str
    number: int

    def handle(self, network: str) -> str:
        return f"adv{self.number:05d}_{network}"

    def text(self) -> str:
        """Her own words: a letters-only code of her number (normalised words keep letters) with
        six endings, so no two advocates share any of them."""
        code, n = "", self.number
        for _ in range(4):
            code, n = code + _LETTERS[n % len(_LETTERS)], n // len(_LETTERS)
        own = " ".join(f"{code}{end}" for end in ("a", "e", "i", "o", "u", "y"))
        return f"{SHARED_WORDS} {own} {HASHTAG}"


@dataclass
class Result:
    advocates: int
    shares: int
    deliveries: int
    seconds: float
    latencies: list[float]
    duplicates: int
    missing: int
    limit_violations: int
    invalid: int
    refused: dict[str, int] = field(default_factory=dict)
    stages: dict[str, float] = field(default_factory=dict)

    def line(self) -> str:
        values = sorted(self.latencies) or [0.0]
        p50 = statistics.median(values) * 1000
        p99 = values[min(len(values) - 1, int(len(values) * 0.99))] * 1000
        per_s = self.deliveries / self.seconds if self.seconds else 0.0
        return (
            f"advocacy_share advocates={self.advocates} networks={len(NETWORKS)} "
            f"deliveries={self.deliveries} per_s={per_s:.0f} p50_ms={p50:.0f} p99_ms={p99:.0f} "
            f"seconds={self.seconds:.1f} duplicates={self.duplicates} "
            f"limit_violations={self.limit_violations} invalid={self.invalid}"
            + "".join(f" {stage}_s={self.stages[stage]:.1f}" for stage in STAGES if stage in self.stages)
        )

    def failures(self) -> list[str]:
        found = []
        if self.duplicates:
            found.append(f"{self.duplicates} duplicates")
        if self.missing:
            found.append(f"{self.missing} deliveries missing")
        if self.limit_violations:
            found.append(f"{self.limit_violations} 429s from the sandbox {self.refused}")
        if self.invalid:
            found.append(f"{self.invalid} shares invalid")
        return found


class ShareFleet(DeliveryFleet):
    """The delivery fleet (NATS, sandbox, federation with the agencies' pages, dispatcher) plus the
    formatter and the hub."""

    def __init__(self, root: Path, agencies: int) -> None:
        super().__init__(root, make_pages(agencies, ("mastodon",), agencies=agencies))
        formatter, hub = free_port(), free_port()
        self.hub_url = f"http://127.0.0.1:{hub}"
        for spec in (
            service_spec(
                "formatter", "services.formatter", self.base_env, formatter, "RELAIS_FORMATTER_PORT"
            ),
            service_spec("hub", "services.hub", self.base_env, hub, "RELAIS_HUB_PORT"),
        ):
            self.processes[spec.name] = ManagedProcess(spec, self.data_dir / "logs")

    def call_hub(self, path: str, body: dict[str, Any] | None, role: str) -> dict[str, Any]:
        """POST to the hub's API as a national `role`; its answer (a 2xx, or the bench stops)."""
        key = load_or_create_private_key(config.token_key_path(self.base_env))
        token = issue_token(key, role=role, subject=f"bench-{role}")
        status, answer = http("POST", f"{self.hub_url}{path}", body, token=token)
        if status >= 300:
            raise RuntimeError(f"the hub answered {status} to {path}: {answer}")
        return dict(answer)

    def write_story(self) -> str:
        """A topic for every agency and a story in it, approved; the story's id."""
        topic = {"id": "salons", "titles": {"fr": "Salons de l'emploi"}, "required": True}
        self.call_hub("/v1/topics", topic, "admin")
        story = {
            "topic": "salons",
            "link": STORY_LINK,
            "texts": {"fr": "Le salon de l'emploi ouvre jeudi."},
            "hashtag": HASHTAG,
            "expires_at": (datetime.now(UTC) + timedelta(days=7)).isoformat(),
        }
        story_id = str(self.call_hub("/v1/stories", story, "moderator")["id"])
        self.call_hub(f"/v1/stories/{story_id}/approve", None, "moderator")
        return story_id

    def refused(self) -> dict[str, int]:
        with urllib.request.urlopen(f"{self.sandbox_url}/_sandbox/rates", timeout=30) as response:
            return dict(json.loads(response.read())["refused"])

    def stored_credentials(self) -> int:
        database = self.data_dir / "dispatcher.db"
        try:
            with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10) as db:
                return int(db.execute("select count(*) from advocate_credentials").fetchone()[0])
        except sqlite3.OperationalError:
            return 0


def make_advocates(count: int, agencies: list[str]) -> list[Advocate]:
    return [Advocate(new_advocate_id(), agencies[n % len(agencies)], n) for n in range(count)]


async def publish_all(js: JetStreamContext, messages: list[tuple[str, Message, str]]) -> None:
    """(subject, message, message id) with `PUBLISHING` in flight."""
    limit = asyncio.Semaphore(PUBLISHING)

    async def one(subject: str, message: Message, msg_id: str) -> None:
        async with limit:
            await bus.publish(js, subject, message, msg_id)

    await asyncio.gather(*(one(*item) for item in messages))


async def sealer(nc: NATS) -> Sealer:
    for _ in range(300):
        try:
            kv = await nc.jetstream().key_value(SEALING_BUCKET)
            key = (await kv.get(SEALING_KEY)).value or b""
            return Sealer(key.decode())
        except Exception:  # the dispatcher has not published its key yet
            await asyncio.sleep(0.1)
    raise RuntimeError("the dispatcher published no sealing key")


def connection(fleet: ShareFleet, advocate: Advocate, network: str, seal: Sealer) -> tuple[str, Message, str]:
    """What the hub's callback (X, LinkedIn, Mastodon) or the node (Bluesky) publishes."""
    handle = advocate.handle(network)
    secret = {"identifier": handle, "password": f"sbx-bluesky-{handle}"} if network == "bluesky" else {}
    fields = secret or {"token": f"sbx-{network}-{handle}"}
    event = "app_password" if network == "bluesky" else "connected"
    message = AdvocateConnected(
        post_id="",
        agency=advocate.agency,
        occurred_at=utc_now(),
        advocate=advocate.advocate,
        network=network,
        account_id=handle,
        handle=handle,
        instance=fleet.sandbox_url if network == "mastodon" else None,
        sealed_credentials=seal.seal(
            json.dumps(fields), purpose=credentials_purpose(advocate.advocate, network)
        ),
    )
    subject = advocacy_subject(advocate.agency, advocate.advocate, event)
    return subject, message, f"{subject}.{network}"


async def connect_everyone(fleet: ShareFleet, advocates: list[Advocate], pages: int) -> None:
    """Enrol and connect every advocate; until the registry and the dispatcher hold every account."""
    nc = await nats.connect(fleet.nats_url)
    try:
        js = nc.jetstream()
        seal = await sealer(nc)
        messages: list[tuple[str, Message, str]] = []
        for advocate in advocates:
            subject = advocacy_subject(advocate.agency, advocate.advocate, "enrolled")
            enrolled = AdvocateEnrolled(
                post_id="",
                agency=advocate.agency,
                occurred_at=utc_now(),
                advocate=advocate.advocate,
                user=f"bench-advisor-{advocate.number}",
                consented_at=utc_now(),
                consent_version=CONSENT_VERSION,
                consent_language="fr",
                consent_text="J'accepte de partager les actualités du service depuis mes comptes.",
            )
            messages.append((subject, enrolled, subject))
            messages.extend(connection(fleet, advocate, network, seal) for network in NETWORKS)
        await publish_all(js, messages)
        wanted = len(advocates) * len(NETWORKS)
        kv = await js.key_value(PAGES_BUCKET)
        deadline = time.monotonic() + 60 + wanted / 20
        while time.monotonic() < deadline:
            registered = (await kv.status()).values - pages
            if registered >= wanted and fleet.stored_credentials() >= wanted:
                return
            await asyncio.sleep(0.5)
        raise RuntimeError(
            f"accounts not ready: {registered} pages registered, {fleet.stored_credentials()} credentials "
            f"stored, of {wanted}"
        )
    finally:
        await nc.close()


def a_share(advocate: Advocate, story: str, text: str) -> PostReceived:
    """As the advocate's node builds it (services/intake/shares.py)."""
    return PostReceived(
        post_id=new_post_id(advocate.agency),
        agency=advocate.agency,
        occurred_at=utc_now(),
        author=advocate.advocate,
        text=text,
        link=STORY_LINK,
        targets=[Target(n, personal_page(advocate.advocate, n)) for n in NETWORKS],
        policy={n: SHARE_FITTING for n in NETWORKS},
        share=ShareOf(story=story, advocate=advocate.advocate),
    )


async def share_all(
    fleet: ShareFleet,
    advocates: list[Advocate],
    story: str,
    text_of: Callable[[Advocate], str],
    wait: float,
) -> tuple[dict[str, float], float, int, dict[str, float]]:
    """Publish every share at once; (seconds from its share to each delivery's publication, by
    `post_id/page`), the seconds from the first share to the last publication, the invalid shares,
    and the seconds until the last share passed each of `STAGES`."""
    shares = [a_share(advocate, story, text_of(advocate)) for advocate in advocates]
    wanted = len(shares) * len(NETWORKS)
    sent: dict[str, float] = {}
    published: dict[str, float] = {}
    invalid: set[str] = set()
    stages: dict[str, float] = {}
    finished = asyncio.Event()
    nc = await nats.connect(fleet.nats_url)

    def settle() -> None:  # every delivery is published, or its share refused
        if len(published) + len(invalid) * len(NETWORKS) >= wanted:
            finished.set()

    async def on_published(msg: Msg) -> None:
        update = decode(msg.data, DeliveryUpdated)
        published.setdefault(f"{update.post_id}/{update.page}", time.perf_counter())
        settle()

    async def on_invalid(msg: Msg) -> None:
        invalid.add(msg.subject.split(".")[2])
        settle()

    def passed(stage: str) -> Callable[[Msg], Awaitable[None]]:
        async def record(msg: Msg) -> None:
            stages[stage] = time.perf_counter()  # the last share through that stage so far

        return record

    try:
        await nc.subscribe("deliveries.*.*.published", cb=on_published)
        await nc.subscribe("variants.*.*.invalid", cb=on_invalid)
        for stage, subject in STAGES.items():
            await nc.subscribe(subject, cb=passed(stage))
        await nc.flush()
        started = time.perf_counter()
        for share in shares:
            sent[share.post_id] = started
        await publish_all(
            nc.jetstream(), [(posts_subject(s.agency, s.post_id), s, s.post_id) for s in shares]
        )
        try:
            await asyncio.wait_for(finished.wait(), wait)
        except TimeoutError:
            pass
        await asyncio.sleep(1.0)  # a late duplicate or invalid answer is still counted
    finally:
        await nc.close()
    latencies = {key: moment - sent[key.split("/")[0]] for key, moment in published.items()}
    last = max(published.values(), default=started)
    return latencies, last - started, len(invalid), {k: v - started for k, v in stages.items()}


def run(
    root: Path,
    advocates: int = ADVOCATES,
    agencies: int = AGENCIES,
    text_of: Callable[[Advocate], str] = Advocate.text,
) -> Result:
    """The whole benchmark in `root` (fresh processes and files); the figures. `text_of` words each
    share (each advocate's own words; a test gives near-identical ones to see them counted)."""
    fleet = ShareFleet(root, agencies)
    people = make_advocates(advocates, sorted({p.agency for p in fleet.pages}))
    try:
        fleet.start()
        story = fleet.write_story()
        asyncio.run(connect_everyone(fleet, people, len(fleet.pages)))
        latencies, seconds, invalid, stages = asyncio.run(
            share_all(fleet, people, story, text_of, wait=120 + advocates / 5)
        )
        received = Counter((p["network"], p["account"], p["text"]) for p in fleet.received())
        refused = fleet.refused()
    finally:
        fleet.stop()
    wanted = {(n, a.handle(n)) for a in people for n in NETWORKS}
    mine = {key: count for key, count in received.items() if (key[0], key[1]) in wanted}
    return Result(
        advocates=advocates,
        shares=len(people),
        deliveries=len(latencies),
        seconds=seconds,
        latencies=list(latencies.values()),
        duplicates=sum(count - 1 for count in mine.values()),
        missing=len(wanted) - min(len({(n, a) for n, a, _ in mine}), len(latencies)),
        limit_violations=sum(refused.values()),
        invalid=invalid,
        refused=refused,
        stages=stages,
    )


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="relais-bench-advocacy-") as workdir:
        result = run(Path(workdir))
    print(result.line(), flush=True)
    if failures := result.failures():
        print(f"advocacy_share FAILED: {', '.join(failures)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
