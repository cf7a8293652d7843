"""A year of questions replayed at compressed time through the real services (issue #15, Done when).

Run with `python -m bench.bench_inbox_year` (or `python -m bench`). It prints

    inbox_year questions=14770 within_target=… p50_min=… p90_min=… report_matches=true answered=…
    never=… seconds=…

The services, as real processes on free ports (tests/harness.py `RelaisSystem`, the specs `relais run`
starts): NATS, the sandbox (rate limits off), the federation, the formatter, the hub, the dispatcher
(`RELAIS_INBOX_POLL_SECONDS=5`) and one node per agency. The registry (`AGENCIES`): six agencies, three
on `fr-metropole`, one in La Réunion (`fr-reunion`), two in Morocco (`ma`), each with Mastodon pages of
at most `QUESTIONS_PER_PAGE` (80) questions: 31 per agency for 14,770. Compressed time puts a year of a
page's answers into minutes, and the dispatcher keeps each page within Mastodon's 300 calls per 5
minutes (as the sandbox counts them, even with its limits off): 60 polls, then a read and a post per
answer. Each page gets a cursor first: one item dated now (outside the year and its report), read
before the year's, since the dispatcher starts a page without a cursor at its newest notifications.
Escalations are irrelevant here and kept out of the way: `RELAIS_INBOX_ESCALATE_EVERY=3600` (the hub's
first pass runs at its start, before any question; the next one an hour later, after the run).

The questions (`arrivals`, seeded `random.Random(2016)`): `QUESTIONS` spread over the pages in turn,
each dated in 2025 by the network (the sandbox's `/_sandbox/incoming` with `at`): a day drawn from the
year with weekdays four times as likely as a Saturday or Sunday (holidays and Ramadan are ordinary days
for the people asking; the calendars close the agencies), then a time of day in the agency's zone: 80 %
in office hours (08:00–18:00), 12 % in the evening (18:00–23:00), 8 % at night (23:00–08:00).

The agents (`response`, the same seeded generator), from the moment the question's clock starts (its
arrival, or the next opening when it came outside business hours):
- 70 % answer within the business day: after a lognormal time of median 90 business minutes (σ 0.6;
  about 5 % of these still run past 4 business hours);
- 20 % answer late: after 5 to 15 business hours (uniform), the next business day or the one after;
- 7 % answer after hours: the evening of the day the clock started, 30 minutes to 4 hours after closing;
- 3 % never answer.
Each answer is dated by the network as the model says: the bench registers the reply's date with the
sandbox's `/_sandbox/clock/replies` BEFORE sending it through the agency node's real reply API (`POST
/v1/inbox/{conversation}/replies`), so every reply runs at real speed, concurrently, yet is dated exactly.

The comparison (`report_matches`): the raw events are read back from the bus once every answer reached
the hub (JetStream: each `InboxItemReceived` on INBOX, each reply's published `DeliveryUpdated` on
DELIVERIES, tied to its question by the post id the node answered); from them, computed here per agency
and network: questions, answered, within 4 business hours, p50/p90 of the first response in business
minutes. Independent of the hub's code: business minutes summed here over each day's opening hours,
percentiles nearest-rank written here. Only the definition of business time comes from
shared/business_hours (`opening_hours`, and `deadline` for "within the target": the calendars are the
definition). The system's figures (`system_report`: `relais report --from 2025-01-01 --to 2026-01-01
--format csv --database hub.db`, one row per agency and network) are compared row by row, exactly (at
the report's printed precision). The printed `within_target` is the share of decided questions
(answered, or unanswered past their deadline) answered within the target; p50/p90 are over every
answered question of the year; `seconds` runs from the first question written to the last answer at
the hub (the services' start, about 20 s, left out).
"""

from __future__ import annotations

import asyncio
import csv
import io
import math
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere: `tests` and `shared` live at the root

import aiohttp  # noqa: E402
import msgspec  # noqa: E402
import nats  # noqa: E402
from nats.js import JetStreamContext  # noqa: E402

from shared.business_hours import Calendar, calendar_for, deadline, opening_hours  # noqa: E402
from shared.schemas import DeliveryUpdated, InboxItemReceived, conversation_key  # noqa: E402
from tests.harness import RelaisSystem, eventually, http  # noqa: E402

QUESTIONS = int(os.environ.get("RELAIS_BENCH_YEAR_QUESTIONS", "14770"))  # ANAPEC's 2016 on Facebook
SEED = 2016
YEAR = 2025
TARGET = timedelta(hours=4)
NETWORK = "mastodon"
CONCURRENCY = 16  # replies in flight at once, across the nodes
POLL_SECONDS = 5  # RELAIS_INBOX_POLL_SECONDS
# A year's answers in minutes: each page's calls must fit Mastodon's 300 per 5 minutes, which the
# dispatcher keeps to (what the sandbox counts, even with its limits off): 60 polls of its inbox, and
# per question the answered status read and the reply posted.
QUESTIONS_PER_PAGE = 80
TIMEOUT_S = 1800.0
_CHUNK = 1000  # the sandbox writes at most this many items per call


@dataclass(frozen=True)
class Agency:
    agency: str
    region: str
    region_name: str
    department: str
    city: str
    timezone: str

    @property
    def calendar(self) -> Calendar:
        return calendar_for(self.region, self.agency)


@dataclass(frozen=True)
class Page:
    """One of an agency's Mastodon pages."""

    agency: Agency
    number: int

    @property
    def id(self) -> str:
        return f"{self.agency.agency}-{NETWORK}-{self.number}"

    @property
    def handle(self) -> str:
        return f"ft_{self.agency.agency.replace('-', '_')}_{self.number}"


def pages_of(count: int, agencies: Sequence[Agency]) -> list[Page]:
    """Enough pages per agency for `QUESTIONS_PER_PAGE` each at most."""
    per_agency = max(1, math.ceil(count / len(agencies) / QUESTIONS_PER_PAGE))
    return [Page(agency, number) for agency in agencies for number in range(1, per_agency + 1)]


AGENCIES = (
    Agency("paris-belleville", "ile-de-france", "Île-de-France", "75", "Paris", "Europe/Paris"),
    Agency("lyon-part-dieu", "auvergne-rhone-alpes", "Auvergne-Rhône-Alpes", "69", "Lyon", "Europe/Paris"),
    Agency("lille-centre", "hauts-de-france", "Hauts-de-France", "59", "Lille", "Europe/Paris"),
    Agency("saint-denis", "la-reunion", "La Réunion", "974", "Saint-Denis", "Indian/Reunion"),
    Agency(
        "casablanca-anfa", "casablanca-settat", "Casablanca-Settat", "06", "Casablanca", "Africa/Casablanca"
    ),
    Agency("rabat-agdal", "rabat-sale-kenitra", "Rabat-Salé-Kénitra", "04", "Rabat", "Africa/Casablanca"),
)


# ----------------------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class Asked:
    """One simulated question: when the network dates it, and when (if ever) its agent answers."""

    number: int
    page: Page
    received: datetime  # aware, UTC
    kind: str  # on_time, late, after_hours, never
    answered: datetime | None  # aware, UTC


def arrivals(count: int, pages: Sequence[Page], rng: random.Random) -> list[tuple[Page, datetime]]:
    """`count` questions of `YEAR`, to the pages in turn (see the module's docstring)."""
    days = [date(YEAR, 1, 1) + timedelta(days=n) for n in range(365)]
    weights = [1.0 if day.weekday() < 5 else 0.25 for day in days]
    asked = []
    for number in range(count):
        page = pages[number % len(pages)]
        day = rng.choices(days, weights)[0]
        band = rng.random()
        if band < 0.80:
            minute = rng.uniform(8 * 60, 18 * 60)
        elif band < 0.92:
            minute = rng.uniform(18 * 60, 23 * 60)
        else:
            minute = rng.uniform(23 * 60, 32 * 60) % (24 * 60)
        zone = page.agency.calendar.zone
        local = datetime(day.year, day.month, day.day, tzinfo=zone) + timedelta(minutes=minute)
        # Whole seconds: the networks date to the second or the millisecond, never finer.
        asked.append((page, datetime.fromtimestamp(math.floor(local.timestamp()), UTC)))
    return asked


def clock_start(calendar: Calendar, received: datetime) -> datetime:
    """When the question's clock starts: its arrival, or the next opening."""
    return deadline(calendar, received, timedelta(0))


def response(calendar: Calendar, received: datetime, rng: random.Random) -> tuple[str, datetime | None]:
    """The agent's kind and answer (see the module's docstring), to the millisecond."""
    draw = rng.random()
    if draw < 0.70:
        kind, at = (
            "on_time",
            deadline(calendar, received, timedelta(minutes=rng.lognormvariate(math.log(90), 0.6))),
        )
    elif draw < 0.90:
        kind, at = "late", deadline(calendar, received, timedelta(hours=rng.uniform(5, 15)))
    elif draw < 0.97:
        start = clock_start(calendar, received)
        hours = opening_hours(calendar, start.astimezone(calendar.zone).date())
        assert hours is not None  # a clock starts on an open day
        kind, at = "after_hours", hours[1] + timedelta(minutes=rng.uniform(30, 240))
    else:
        return "never", None
    return kind, datetime.fromtimestamp(round(at.timestamp(), 3), UTC)


def year_of_questions(count: int, pages: Sequence[Page], seed: int = SEED) -> list[Asked]:
    rng = random.Random(seed)
    asked = []
    for number, (page, received) in enumerate(arrivals(count, pages, rng)):
        kind, answered = response(page.agency.calendar, received, rng)
        asked.append(Asked(number, page, received, kind, answered))
    return asked


# ------------------------------------------------------------------------------- independent figures


@dataclass
class Figures:
    """One row of figures: per agency and network, or all of them."""

    questions: int = 0
    answered: int = 0
    decided: int = 0
    within_target: int = 0
    business_minutes: list[float] = field(default_factory=list)

    @property
    def p50(self) -> float | None:
        return percentile(self.business_minutes, 50)

    @property
    def p90(self) -> float | None:
        return percentile(self.business_minutes, 90)


def percentile(values: Sequence[float], percent: int) -> float | None:
    """Nearest rank: the smallest value with at least `percent` % of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = -(-percent * len(ordered) // 100)  # ceiling, in integers
    return ordered[max(rank, 1) - 1]


def business_minutes(calendar: Calendar, start: datetime, end: datetime) -> float:
    """The minutes the calendar is open between two instants, day by day over its opening hours."""
    total = timedelta(0)
    day = start.astimezone(calendar.zone).date()
    while True:
        hours = opening_hours(calendar, day)
        if hours is not None:
            opens, closes = hours
            if opens >= end:
                break
            total += max(timedelta(0), min(closes, end) - max(opens, start))
        day += timedelta(days=1)
        if datetime.combine(day, datetime.min.time(), calendar.zone) > end:
            break
    return total / timedelta(minutes=1)


def independent_figures(
    received: Iterable[InboxItemReceived],
    published: Iterable[DeliveryUpdated],
    answers: dict[str, str],
    calendars: dict[str, Calendar],
    as_of: datetime,
) -> dict[tuple[str, str], Figures]:
    """The figures from the raw events: each question's date as the network gave it, each reply's
    date as the network gave it (`published_at`, else `occurred_at` as the contract says), a reply
    tied to its question by `answers` (its post id -> the conversation, as the node answered)."""
    first: dict[str, datetime] = {}
    for delivery in published:
        conversation = answers.get(delivery.post_id)
        if conversation is None or delivery.status != "published":
            continue
        at = _utc(delivery.published_at or delivery.occurred_at)
        first[conversation] = min(first.get(conversation, at), at)
    rows: dict[tuple[str, str], Figures] = defaultdict(Figures)
    seen: set[tuple[str, str]] = set()
    for item in received:
        if (item.network, item.item_id) in seen:
            continue
        seen.add((item.network, item.item_id))
        calendar, asked_at = calendars[item.page], _utc(item.created_at)
        if asked_at.year != YEAR:
            continue  # the pages' first items (`set_cursors`), outside the year's report
        due = deadline(calendar, asked_at, TARGET)
        row = rows[(item.agency, item.network)]
        row.questions += 1
        answered = first.get(item.conversation)
        if answered is None:
            row.decided += as_of > due
            continue
        row.answered += 1
        row.decided += 1
        row.within_target += answered <= due
        row.business_minutes.append(business_minutes(calendar, asked_at, answered))
    return dict(rows)


def overall(rows: dict[tuple[str, str], Figures]) -> Figures:
    total = Figures()
    for row in rows.values():
        total.questions += row.questions
        total.answered += row.answered
        total.decided += row.decided
        total.within_target += row.within_target
        total.business_minutes += row.business_minutes
    return total


def _utc_or_none(text: str | None) -> datetime | None:
    return _utc(text) if text else None


def _utc(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


# --------------------------------------------------------------------------------- the system's report

REPORT_COLUMNS = (
    "period_start,period_end,region,agency,network,posts_published,questions,answered,decided,within_target,"
    "within_target_share,within_target_all_hours,p50_business_min,p90_business_min,p50_all_hours_min,"
    "p90_all_hours_min,likes,shares,replies,views"
).split(",")


@dataclass(frozen=True)
class ReportRow:
    questions: int
    answered: int
    within_target: int
    p50: str  # as printed ("" for none)
    p90: str


def system_report(hub_db: Path) -> dict[tuple[str, str], ReportRow]:
    """The system's figures per agency and network, as an operator asks for them: `relais report
    --from 2025-01-01 --to 2026-01-01 --format csv --database hub.db` (the whole year in one report,
    for the year's p50 and p90)."""
    relais = Path(sys.executable).parent / "relais"
    period = ["--from", f"{YEAR}-01-01", "--to", f"{YEAR + 1}-01-01"]
    done = subprocess.run(
        [str(relais), "report", *period, "--format", "csv", "--database", str(hub_db)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"relais report failed: {done.stderr}")
    reader = csv.DictReader(io.StringIO(done.stdout))
    missing = set(REPORT_COLUMNS) - set(reader.fieldnames or ())
    if missing:
        raise RuntimeError(f"the report's CSV lacks {sorted(missing)}")
    return {
        (row["agency"], row["network"]): ReportRow(
            int(row["questions"] or 0),
            int(row["answered"] or 0),
            int(row["within_target"] or 0),
            row["p50_business_min"],
            row["p90_business_min"],
        )
        for row in reader
        if row["questions"] and int(row["questions"])
    }


def compare(mine: dict[tuple[str, str], Figures], system: dict[tuple[str, str], ReportRow]) -> list[str]:
    """What differs, row by row (empty: the report matches)."""
    problems = []
    for key in sorted(set(mine) | set(system)):
        own, theirs = mine.get(key), system.get(key)
        if own is None or theirs is None:
            problems.append(f"{key}: only in {'the report' if own is None else 'the raw events'}")
            continue
        counts = (own.questions, own.answered, own.within_target)
        if counts != (theirs.questions, theirs.answered, theirs.within_target):
            problems.append(f"{key}: questions, answered, within_target {counts} != report's {theirs}")
        for name, value, printed in (("p50", own.p50, theirs.p50), ("p90", own.p90, theirs.p90)):
            if not _same(value, printed):
                problems.append(f"{key}: {name} {value} != report's {printed!r}")
    return problems


def _same(value: float | None, printed: str) -> bool:
    """A figure equals the report's printed one at the precision it is printed with."""
    if value is None or not printed:
        return value is None and not printed
    decimals = len(printed.split(".", 1)[1]) if "." in printed and "e" not in printed.lower() else None
    if decimals is None:
        return float(printed) == value
    return f"{value:.{decimals}f}" == f"{float(printed):.{decimals}f}"


# ----------------------------------------------------------------------------------------- the run


@dataclass
class YearRun:
    asked: list[Asked]
    mine: dict[tuple[str, str], Figures]
    system: dict[tuple[str, str], ReportRow]
    problems: list[str]
    # Each reply's post id -> (its agent's date, the network's as the bus carried it).
    dated: dict[str, tuple[datetime | None, datetime | None]]
    seconds: float

    @property
    def matches(self) -> bool:
        return not self.problems


def write_registry(path: Path, pages: Sequence[Page]) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(
            "region,region_name,department,agency,agency_name,city,timezone,network,page,handle,"
            "credentials_ref,local_url".split(",")
        )
        for page in pages:
            a = page.agency
            writer.writerow(
                [
                    *(a.region, a.region_name, a.department, a.agency, f"Agence {a.city}", a.city),
                    *(a.timezone, NETWORK, page.id, page.handle, f"sandbox/{page.id}"),
                    f"https://agences.example/{a.agency}",
                ]
            )


def start_system(root: Path, pages: Sequence[Page]) -> RelaisSystem:
    csv_path = root / "registry.csv"
    write_registry(csv_path, pages)
    agencies = list(dict.fromkeys(page.agency.agency for page in pages))
    system = RelaisSystem(root, csv_path, agencies=agencies)
    system.processes["sandbox"].spec.env["RELAIS_SANDBOX_RATE_LIMITS"] = "off"
    system.processes["dispatcher"].spec.env["RELAIS_INBOX_POLL_SECONDS"] = str(POLL_SECONDS)
    system.processes["hub"].spec.env["RELAIS_INBOX_ESCALATE_EVERY"] = "3600"
    system.start()
    return system


def set_cursors(system: RelaisSystem, pages: Sequence[Page]) -> None:
    """One item per page, dated now (outside the year and its report), read before the year's: the
    dispatcher starts a page with no cursor at the newest page of notifications (as Mastodon's own
    clients do), so each page needs a cursor before a burst of more than a page of questions."""
    for page in pages:
        body = {"network": NETWORK, "account": page.handle, "texts": ["Bonjour ?"]}
        status, answer = http("POST", f"{system.sandbox_url}/_sandbox/incoming", body)
        assert status == 201, answer
    hub_db = system.data_dir / "hub.db"
    eventually(lambda: conversations_at_hub(hub_db) >= len(pages), timeout=120, interval=0.5)


def ask_everything(system: RelaisSystem, asked: Sequence[Asked]) -> dict[int, str]:
    """The network receives every question, dated; its item id by question number."""
    by_page: dict[str, list[Asked]] = defaultdict(list)
    for question in asked:
        by_page[question.page.id].append(question)
    item_ids = {}
    for questions in by_page.values():
        for start in range(0, len(questions), _CHUNK):
            chunk = questions[start : start + _CHUNK]
            body = {
                "network": NETWORK,
                "account": chunk[0].page.handle,
                "texts": [f"Bonjour, quand puis-je venir à l'agence ? (question {q.number})" for q in chunk],
                "at": [q.received.timestamp() for q in chunk],
            }
            status, answer = http("POST", f"{system.sandbox_url}/_sandbox/incoming", body)
            assert status == 201, answer
            for question, item in zip(chunk, answer["items"], strict=True):
                item_ids[question.number] = str(item["item_id"])
    return item_ids


def script_reply_dates(system: RelaisSystem, asked: Sequence[Asked], item_ids: dict[int, str]) -> None:
    """The network's clock for every answer, before any is sent."""
    dates = {item_ids[q.number]: q.answered.timestamp() for q in asked if q.answered is not None}
    items = list(dates.items())
    for start in range(0, len(items), 10_000):
        body = {"network": NETWORK, "dates": dict(items[start : start + 10_000])}
        status, answer = http("POST", f"{system.sandbox_url}/_sandbox/clock/replies", body)
        assert status == 200, answer


async def answer_everything(
    system: RelaisSystem, asked: Sequence[Asked], item_ids: dict[int, str], patience: float
) -> dict[str, int]:
    """Each agent answers through its node's reply API once the conversation is there (a 404 until
    then): the reply's post id -> question number."""
    agencies = {q.page.agency.agency for q in asked}
    tokens = {agency: system.token("advisor", agency) for agency in agencies}
    urls = {agency: system.intake_url(agency) for agency in agencies}
    gate = asyncio.Semaphore(CONCURRENCY)
    posted: dict[str, int] = {}
    give_up = time.monotonic() + patience

    async def answer(session: aiohttp.ClientSession, question: Asked) -> None:
        agency = question.page.agency.agency
        conversation = conversation_key(NETWORK, item_ids[question.number])
        url = f"{urls[agency]}/v1/inbox/{conversation}/replies"
        headers = {"Authorization": f"Bearer {tokens[agency]}", "Idempotency-Key": f"year-{question.number}"}
        body = {"text": f"Bonjour, l'agence vous répond : venez lundi à 9 h. (réponse {question.number})"}
        wait = 0.5
        while time.monotonic() < give_up:
            async with gate:
                try:
                    async with session.post(url, json=body, headers=headers) as reply:
                        status, answer = reply.status, await reply.json(content_type=None)
                except (aiohttp.ClientError, TimeoutError):
                    status, answer = 0, None
            if status in (200, 201, 202):
                posted[str(answer["id"])] = question.number
                return
            if status not in (0, 404, 429, 503):
                raise RuntimeError(f"the node refused the reply to question {question.number}: {answer}")
            await asyncio.sleep(wait)  # the conversation has not reached the node yet
            wait = min(wait * 1.5, 5.0)
        raise TimeoutError(f"question {question.number} never reached {agency}'s node")

    timeout_s = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout_s) as session:
        await asyncio.gather(*(answer(session, q) for q in asked if q.answered is not None))
    return posted


def answered_at_hub(hub_db: Path) -> int:
    return _count(hub_db, "select count(*) from inbox_replies where answered_at is not null")


def conversations_at_hub(hub_db: Path) -> int:
    return _count(hub_db, "select count(*) from inbox_conversations")


def _count(hub_db: Path, query: str) -> int:
    """A count from the hub's database (0 before its tables exist)."""
    try:
        with sqlite3.connect(f"file:{hub_db}?mode=ro", uri=True, timeout=30) as db:
            return int(db.execute(query).fetchone()[0])
    except sqlite3.OperationalError:
        return 0


async def read_stream(nats_url: str, subject: str) -> list[bytes]:
    """Every message of `subject` the streams hold, oldest first (an ordered consumer, read to the end)."""
    nc = await nats.connect(nats_url)
    try:
        js: JetStreamContext = nc.jetstream()
        sub = await js.subscribe(subject, ordered_consumer=True)
        found = []
        try:
            while True:
                msg = await sub.next_msg(timeout=10)
                found.append(msg.data)
                if msg.metadata.num_pending == 0:
                    break
        except nats.errors.TimeoutError:
            pass  # nothing (more) there
        finally:
            await sub.unsubscribe()
        return found
    finally:
        await nc.close()


def run_year(count: int, agencies: Sequence[Agency], root: Path, timeout: float = TIMEOUT_S) -> YearRun:
    pages = pages_of(count, agencies)
    asked = year_of_questions(count, pages)
    calendars = {page.id: page.agency.calendar for page in pages}
    system = start_system(root, pages)
    started = time.monotonic()
    try:
        set_cursors(system, pages)
        item_ids = ask_everything(system, asked)
        script_reply_dates(system, asked, item_ids)
        posted = asyncio.run(answer_everything(system, asked, item_ids, timeout))
        hub_db = system.data_dir / "hub.db"
        eventually(lambda: answered_at_hub(hub_db) >= len(posted), timeout=timeout, interval=1.0)
        seconds = time.monotonic() - started
        received = [
            msgspec.json.decode(data, type=InboxItemReceived)
            for data in asyncio.run(read_stream(system.nats_url, "inbox.*.*.received"))
        ]
        published = [
            msgspec.json.decode(data, type=DeliveryUpdated)
            for data in asyncio.run(read_stream(system.nats_url, "deliveries.*.*.published"))
        ]
        by_number = {q.number: q for q in asked}
        answers = {post_id: conversation_key(NETWORK, item_ids[number]) for post_id, number in posted.items()}
        mine = independent_figures(received, published, answers, calendars, datetime.now(UTC))
        system_rows = system_report(hub_db)
        dated = {
            d.post_id: (by_number[posted[d.post_id]].answered, _utc_or_none(d.published_at))
            for d in published
            if d.post_id in posted
        }
    finally:
        system.stop()
    return YearRun(asked, mine, system_rows, compare(mine, system_rows), dated, seconds)


def main() -> int:
    # Stopped from outside, it stops its services first (the `finally`s run on SystemExit).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    root = Path(tempfile.mkdtemp(prefix="relais-bench-year-"))
    try:
        run = run_year(QUESTIONS, AGENCIES, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    total = overall(run.mine)
    share = total.within_target / total.decided if total.decided else 0.0
    never = sum(q.answered is None for q in run.asked)
    print(
        f"inbox_year questions={total.questions} within_target={share:.3f} p50_min={total.p50 or 0:.1f}"
        f" p90_min={total.p90 or 0:.1f} report_matches={'true' if run.matches else 'false'}"
        f" answered={total.answered} never={never} seconds={run.seconds:.0f}",
        flush=True,
    )
    if not run.matches or total.questions != QUESTIONS:
        for problem in run.problems[:20]:
            print(f"inbox_year mismatch: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
