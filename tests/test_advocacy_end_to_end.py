"""#AvecPôleEmploi (#16) the way an advisor goes through it, on a real `relais run` (hub, nodes,
sandbox, every service as processes): consent at her node, a story curated and approved at the hub and
offered at the node, her X, LinkedIn and Mastodon accounts connected through the sandbox's consent and
the hub's callback, Bluesky with an app password, shares to the four networks, offline and back,
near-duplicates on X refused, a declined consent and expired tokens (refreshed on X, `needs_reauth` on
LinkedIn) for one advisor only, the report, and `relais advocates forget`.

The steps share one run (module scope) and run in file order, each building on the ones before (run
the module, not one step alone); each reads what really happened: the node's
and the hub's APIs, what the sandbox's networks received, the bus as a subscriber on `>` saw it, and
the hub's audit. Expected values are the policy of issue #16, written here by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import sqlite3
import subprocess
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import nats
import pytest

from relais.system import hub_nats_url
from shared.advocacy.accounts import personal_page
from shared.tokens import issue_token, load_or_create_private_key
from tests.harness import eventually, http
from tests.relais_run import AGENCY, RELAIS, RelaisRun

NETWORKS = ("x", "linkedin", "mastodon", "bluesky")
OAUTH = ("x", "linkedin", "mastodon")
INSTANCE = "https://mastodon.example"
BLUESKY = ("claire.bsky.social", "sbx-bluesky-claire.bsky.social")  # the sandbox's app password for her
CLAIRE, BRUNO = "claire", "bruno"  # two advisors of AGENCY (the token's subject is the user)
LINK = "https://www.francetravail.fr/actualites/salon?ref=accueil&utm_source=old"
TOPIC = {"id": "salons", "titles": {"fr": "Salons de l'emploi", "ar": "معارض التوظيف"}, "required": True}
SECRETS = (  # what must never cross the bus in clear (the sandbox's tokens are sbx-<network>-<account>)
    "sbx-x-claire",
    "sbx-linkedin-claire",
    "sbx-mastodon-claire",
    "sbx-refresh",
    "sbx-x-secret",
    "sbx-linkedin-secret",
    "sbx-mastodon-secret",
    BLUESKY[1],
)


class BusRecorder:
    """A subscriber on `>` with the hub side's NATS user, in its own thread: every subject, body and
    header the bus carries while it runs."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.seen: list[bytes] = []
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._subscribe(), self.loop).result(timeout=20)

    async def _subscribe(self) -> None:
        self.nc = await nats.connect(self.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)

        async def record(msg: Any) -> None:
            self.seen.append(msg.subject.encode() + b" " + msg.data + json.dumps(msg.headers or {}).encode())

        await self.nc.subscribe(">", cb=record)

    def everything(self) -> bytes:
        return b"\n".join(self.seen)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.nc.close(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


class Advocacy:
    """The run and what the steps learn of it."""

    def __init__(self, run: RelaisRun) -> None:
        self.run = run
        self.sandbox = f"http://127.0.0.1:{run.port('RELAIS_SANDBOX_PORT')}"
        self.key = load_or_create_private_key(run.data_dir / "keys" / "hub-token-key.pem")
        self.story = ""
        self.advocate = ""
        self.shares: list[str] = []

    def token(self, role: str = "advisor", user: str = CLAIRE) -> str:
        if role == "advisor":
            return issue_token(self.key, role=role, subject=user, agency=AGENCY)
        return issue_token(self.key, role=role, subject=f"{role}-national")

    def node(self, method: str, path: str, body: Any = None, user: str = CLAIRE, **headers: str) -> Any:
        return http(method, f"{self.run.intake}{path}", body, token=self.token(user=user), headers=headers)

    def hub(self, method: str, path: str, body: Any = None, role: str = "admin") -> Any:
        return http(method, f"{self.run.hub}{path}", body, token=self.token(role))

    def me(self, user: str = CLAIRE) -> dict[str, Any]:
        status, body = self.node("GET", "/v1/advocacy/me", user=user)
        assert status == 200, body
        return dict(body)

    def account_status(self, network: str, user: str = CLAIRE) -> str:
        [found] = [a for a in self.me(user)["accounts"] if a["network"] == network]
        return str(found["status"])

    def wait_connected(self, network: str, user: str = CLAIRE, status: str = "connected") -> None:
        eventually(lambda: self.account_status(network, user) == status, timeout=30, interval=0.3)

    def wait_received(self, network: str, text: str) -> list[dict[str, Any]]:
        """What `network`'s emulator received starting with or holding `text`, once it has some."""
        found: list[dict[str, Any]] = eventually(lambda: published_on(self, network, text), timeout=10)
        return found

    def registry_pages(self) -> set[str]:
        """The page registry's ids, read from the federation's database (read-only)."""
        path = self.run.data_dir / "federation.db"
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            return {row[0] for row in db.execute("select page from pages")}

    def received(self, network: str) -> list[dict[str, Any]]:
        status, body = http("GET", f"{self.sandbox}/_sandbox/posts?network={network}")
        assert status == 200, body
        return list(body["posts"])

    def share(self, text: str, networks: tuple[str, ...] = NETWORKS, user: str = CLAIRE) -> str:
        body = {"story": self.story, "networks": list(networks), "text": text}
        status, accepted = self.node(
            "POST", "/v1/shares", body, user=user, **{"Idempotency-Key": uuid.uuid4().hex}
        )
        assert status == 202, accepted
        return str(accepted["id"])

    def post(self, post_id: str, user: str = CLAIRE) -> dict[str, Any]:
        status, body = self.node("GET", f"/v1/posts/{post_id}", user=user)
        assert status == 200, body
        return dict(body)

    def wait_published(self, post_id: str, user: str = CLAIRE, timeout: float = 60) -> None:
        seen: list[dict[str, Any]] = []

        def published() -> bool:
            seen[:] = [self.post(post_id, user=user)]
            return bool(seen[0]["status"] == "published")

        try:
            eventually(published, timeout=timeout, interval=0.5)
        except AssertionError as exc:
            raise AssertionError(f"not published: {seen}") from exc

    def enrol(self, user: str) -> str:
        status, body = self.node(
            "POST", "/v1/advocacy/consent", {"language": "fr", "accepted": True}, user=user
        )
        assert status == 201, body
        return str(self.me(user)["advocate"])

    def connect(
        self, network: str, user: str = CLAIRE, account: str = CLAIRE, decision: str = "allow"
    ) -> None:
        """Her browser: the node's connect button, the network's consent, the hub's callback."""
        body = {"instance": INSTANCE} if network == "mastodon" else {}

        def authorization_url() -> str | None:
            status, answer = self.node("POST", f"/v1/advocacy/accounts/{network}/connect", body, user=user)
            # Until the hub has read her enrolment it does not know her pseudonym.
            if status == 422 and answer["error"]["code"] == "unknown_advocate":
                return None
            assert status == 200, answer
            return str(answer["authorization_url"])

        url = eventually(authorization_url, timeout=20, interval=0.3)
        choice = {"network": network, "url": url, "account": account, "decision": decision}
        status, consented = http("POST", f"{self.sandbox}/_sandbox/oauth/consent", choice)
        assert status == 200, consented
        location = consented["location"]
        assert location.startswith(f"{self.run.hub}/oauth/{network}/callback?"), location
        status, page = http("GET", location)  # the browser follows the network's redirect
        assert status == 200, page

    def connect_bluesky(
        self, user: str = CLAIRE, identifier: str = BLUESKY[0], password: str = BLUESKY[1]
    ) -> None:
        body = {"identifier": identifier, "app_password": password}

        def sealed() -> bool:
            status, answer = self.node("POST", "/v1/advocacy/accounts/bluesky", body, user=user)
            if status == 503 and answer["error"]["code"] == "no_sealing_key":
                return False  # the node has not read the dispatcher's key yet
            assert status == 202, answer
            return True

        eventually(sealed, timeout=20, interval=0.3)


@pytest.fixture(scope="module")
def advocacy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Advocacy]:
    run = RelaisRun.start(tmp_path_factory.mktemp("advocacy-run"))
    try:
        yield Advocacy(run)
    finally:
        run.stop()


@pytest.fixture(scope="module")
def recorder(advocacy: Advocacy) -> Iterator[BusRecorder]:
    url = hub_nats_url(advocacy.run.data_dir, advocacy.run.port("RELAIS_NATS_PORT"))
    recorder = BusRecorder(url)
    recorder.start()
    yield recorder
    recorder.stop()


def tagged(network: str, story: str) -> dict[str, list[str]]:
    return {
        "ref": ["accueil"],
        "utm_source": [network],
        "utm_medium": ["advocacy"],
        "utm_campaign": [story],
        "utm_content": [AGENCY],
    }


def test_1_she_opts_in_and_the_node_offers_the_approved_story(advocacy: Advocacy) -> None:
    advocacy.advocate = advocacy.enrol(CLAIRE)
    assert advocacy.advocate.startswith("adv-")
    assert advocacy.hub("POST", "/v1/topics", TOPIC)[0] == 200
    expires = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    story = {
        "topic": "salons",
        "link": LINK,
        "texts": {"fr": "Le salon de l'emploi ouvre jeudi."},
        "expires_at": expires,
    }
    status, written = advocacy.hub("POST", "/v1/stories", story, role="moderator")
    assert status == 201, written
    advocacy.story = written["id"]
    status, decided = advocacy.hub("POST", f"/v1/stories/{advocacy.story}/approve", role="moderator")
    assert status == 200, decided

    def offered() -> bool:
        status, body = advocacy.node("GET", "/v1/stories")
        assert status == 200, body
        return advocacy.story in [s["id"] for s in body["stories"]]

    eventually(offered, timeout=20, interval=0.3)


def test_2_she_connects_four_accounts_and_no_credential_crosses_the_bus(
    advocacy: Advocacy, recorder: BusRecorder
) -> None:
    for network in OAUTH:
        advocacy.connect(network)
    advocacy.connect_bluesky()
    for network in NETWORKS:
        advocacy.wait_connected(network)

    mine = {personal_page(advocacy.advocate, n) for n in NETWORKS}
    eventually(lambda: mine <= advocacy.registry_pages(), timeout=20, interval=0.3)  # the federation's
    everything = recorder.everything()
    assert b".connected" in everything and b".app_password" in everything  # it did record them
    for secret in SECRETS:
        assert secret.encode() not in everything, f"{secret} crossed the bus in clear"


def published_on(advocacy: Advocacy, network: str, text: str) -> list[dict[str, Any]]:
    return [p for p in advocacy.received(network) if text in p["text"] or p["text"].startswith(text[:40])]


def test_3_a_share_reaches_each_network_once_as_her_account_with_links_that_measure(
    advocacy: Advocacy, recorder: BusRecorder
) -> None:
    text = f"Salon de l'emploi jeudi à Lyon, venez nombreux ! {LINK}"
    share = advocacy.share(text)
    advocacy.shares.append(share)
    advocacy.wait_published(share)
    for network in NETWORKS:
        [received] = advocacy.wait_received(network, text[:30])
        assert CLAIRE in received["account"], (network, received)
        links = [w for w in received["text"].split() if w.startswith("https://www.francetravail.fr/")]
        assert links, (network, received["text"])
        for link in links:
            assert parse_qs(urlsplit(link).query) == tagged(network, advocacy.story), (network, link)
    for secret in SECRETS:
        assert secret.encode() not in recorder.everything(), f"{secret} crossed the bus in clear"


def test_4_a_share_made_offline_is_published_once_when_the_link_returns(advocacy: Advocacy) -> None:
    assert advocacy.run.ctl("stop", "nats").returncode == 0
    try:
        text = "Hors ligne : job dating logistique mardi, inscrivez-vous à l'agence."
        share = advocacy.share(text)
        advocacy.shares.append(share)
        assert advocacy.post(share)["status"] == "waiting_for_hub"
    finally:
        assert advocacy.run.ctl("start", "nats").returncode == 0
    advocacy.wait_published(share, timeout=90)
    for network in NETWORKS:
        assert len(advocacy.wait_received(network, text)) == 1, network


def test_5_a_second_advisor_near_duplicating_on_x_is_refused_and_a_different_text_passes(
    advocacy: Advocacy,
) -> None:
    advocacy.enrol(BRUNO)
    advocacy.connect("x", user=BRUNO, account=BRUNO)
    advocacy.wait_connected("x", user=BRUNO)
    advocacy.connect("linkedin", user=BRUNO, account=BRUNO, decision="deny")  # he declines LinkedIn's consent
    advocacy.wait_connected("linkedin", user=BRUNO, status="refused")
    assert advocacy.account_status("linkedin", user=CLAIRE) == "connected"  # his refusal only
    copy = advocacy.share(f"Salon de l'emploi jeudi à Lyon : venez nombreux ! {LINK}", ("x",), user=BRUNO)
    invalid = eventually(
        lambda: (p := advocacy.post(copy, user=BRUNO))["status"] == "invalid" and p, timeout=40, interval=0.5
    )
    assert "near" in json.dumps(invalid).lower() or "jaccard" in json.dumps(invalid).lower(), invalid
    own = advocacy.share(
        "Bruno vous attend au forum de jeudi : recruteurs du transport et de la logistique.",
        ("x",),
        user=BRUNO,
    )
    advocacy.wait_published(own, user=BRUNO)
    assert [p for p in advocacy.received("x") if BRUNO in p["account"]] == published_on(
        advocacy, "x", "Bruno vous attend"
    )


def test_6_the_report_counts_each_share_and_the_agencys_required_topic(advocacy: Advocacy) -> None:
    # By hand: Claire's two shares (4 deliveries each), Bruno's copy (invalid) and his own (X only).
    expected = {
        "shares_received": 4,
        "shares_invalid": 1,
        "shares_rejected": 0,
        "shares_published": 3,
        "deliveries_published": 9,
    }
    month = datetime.now(UTC).strftime("%Y-%m")

    def figures() -> dict[str, Any]:
        status, body = advocacy.hub("GET", f"/v1/reports/advocacy?month={month}")
        assert status == 200, body
        return dict(body)

    def counted(row: dict[str, Any]) -> dict[str, int]:
        return {name: row[name] for name in expected}

    report = eventually(
        lambda: counted((r := figures())["total"]) == expected and r, timeout=30, interval=0.5
    )
    [story] = [row for row in report["stories"] if row["key"]["story"] == advocacy.story]
    assert counted(story) == expected
    [lyon] = [row for row in report["agencies"] if row["agency"] == AGENCY]
    assert counted(lyon["figures"]) == expected
    assert (lyon["required_topics"], lyon["covered_topics"], lyon["coverage"]) == (
        ["salons"],
        ["salons"],
        1.0,
    )
    by_network = {row["key"]["network"]: row["deliveries_published"] for row in report["networks"]}
    assert by_network == {"x": 3, "linkedin": 2, "mastodon": 2, "bluesky": 2}
    # The networks received exactly that, each text once (exactly once through the outage too).
    for network, count in by_network.items():
        texts = [p["text"] for p in advocacy.received(network)]
        assert len(texts) == len(set(texts)) == count, (network, texts)
    printed = subprocess.run(
        [RELAIS, "report", "--advocacy", "--month", month, "--format", "csv"],
        env=advocacy.run.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert printed.returncode == 0, printed.stderr
    [row] = [r for r in csv.DictReader(io.StringIO(printed.stdout)) if r["agency"] == AGENCY]
    assert {name: int(row[name]) for name in expected} == expected


def test_7_an_expired_token_is_refreshed_on_x_and_needs_reauth_on_linkedin_for_her_only(
    advocacy: Advocacy,
) -> None:
    faults = f"{advocacy.sandbox}/_sandbox/faults"
    once = {"network": "x", "account": CLAIRE, "mode": "expired_token", "times": 1}
    always = {"network": "linkedin", "account": CLAIRE, "mode": "expired_token", "times": 0}
    assert http("POST", faults, once)[0] == 201 and http("POST", faults, always)[0] == 201
    try:
        text = "Mon agence recrute pour les métiers de la propreté : rencontrons-nous lundi matin."
        refreshed = advocacy.share(text, ("x",))
        advocacy.wait_published(refreshed)  # through the hub's refresh (X gives a refresh token)
        assert len(advocacy.wait_received("x", text)) == 1
        held = advocacy.share("Le salon de jeudi, c'est aussi sur LinkedIn : à bientôt !", ("linkedin",))
        advocacy.wait_connected("linkedin", status="needs_reauth")  # LinkedIn gives none: she reconnects
        assert advocacy.post(held)["status"] != "published"
    finally:
        assert http("DELETE", faults)[0] == 200
    # Her other accounts, and the other advisor's, are untouched.
    assert {n: advocacy.account_status(n) for n in ("x", "mastodon", "bluesky")} == dict.fromkeys(
        ("x", "mastodon", "bluesky"), "connected"
    )
    assert advocacy.account_status("x", user=BRUNO) == "connected"


def test_8_forget_erases_her_pages_and_her_pseudonym_with_one_audit_entry(advocacy: Advocacy) -> None:
    env = {
        **advocacy.run.env,
        "RELAIS_NATS_URL": hub_nats_url(advocacy.run.data_dir, advocacy.run.port("RELAIS_NATS_PORT")),
    }
    done = subprocess.run(
        [RELAIS, "advocates", "forget", CLAIRE], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert f"forgot {advocacy.advocate}" in done.stdout, done.stdout

    mine = {personal_page(advocacy.advocate, n) for n in NETWORKS}
    eventually(lambda: not mine & advocacy.registry_pages(), timeout=20, interval=0.3)
    eventually(lambda: advocacy.me()["advocate"] is None, timeout=20, interval=0.3)
    status, audit = advocacy.hub("GET", "/v1/audit?event=advocate.forgotten")
    assert status == 200, audit
    assert [e["detail"] for e in audit["events"]] == [{"advocate": advocacy.advocate}]
    verified = subprocess.run(
        [RELAIS, "audit", "verify", "--db", str(advocacy.run.data_dir / "hub.db")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    node = advocacy.run.data_dir / f"intake-{AGENCY}.db"
    with contextlib.closing(sqlite3.connect(f"file:{node}?mode=ro", uri=True)) as db:
        for table in ("advocates", "advocate_accounts", "advocacy_outbox"):
            rows = db.execute(f"select * from {table}").fetchall()  # our own table names
            assert not [r for r in rows if advocacy.advocate in map(str, r) or CLAIRE in map(str, r)], table
    # No credential in the logs of Relais's services (the sandbox plays the networks: not checked).
    for log in (advocacy.run.data_dir / "logs").glob("*.log"):
        if log.name != "sandbox.log":
            text = log.read_text(errors="replace")
            assert not [s for s in SECRETS if s in text], log.name
