"""Kills in containers (issue 12, item 2), shared by `tests/engine/test_kills.py` (short) and
`bench/bench_compose_kills.py` (long): posts burst from the agency's intake to its five networks
while the main process of the dispatcher, the hub, the federation, the agency's intake and
nats-server is SIGKILLed in turn from the host, each then also restarted with `docker compose
restart`.

The policy every run is held to, written from the issue and the README, never from what a run did:

- a post is accepted only when its POST got a 202; one whose POST failed (connection refused or
  reset while intake was down, a 5xx, a timeout) was not, and the client posts it again with a new
  text. Every text carries its own marker, so what the sandbox received is counted per attempt;
- every accepted post ends `published` at its agency, each of its five deliveries `published`
  with the remote id the network gave, and the hub says `published` too: nothing stays
  `publishing`, `unconfirmed` or anything else;
- on the sandbox (the networks), each accepted post is there exactly once per network, under the
  remote id the agency shows; an attempt whose POST failed is there on no network (never stored) or
  once on every network (stored, then the answer was lost), never twice; no other post carries
  this run's markers;
- once a node has accepted a post, it never refuses a valid one (an agency must take posts while
  the hub, the federation or NATS is down);
- JetStream keeps its state through nats-server's kill: at the end POSTS holds one message per post
  stored at the agency and DECISIONS one decision per post (the default policy approves);
- the hub's audit chain verifies (`relais audit verify` in the hub container);
- a SIGKILLed container comes back by its restart policy alone (`unless-stopped`): its RestartCount
  goes up by exactly one (it did not crash again while starting) and it is healthy again within
  `RECOVERY_LIMIT_S`, with no command run in between; no other container restarts because of it
  (every service reconnects to NATS by itself); after `docker compose restart` it is healthy again
  within the same limit; at the end every container is running and healthy.

And the run must have tested what it says:
- each kill comes during its own wave of posts: some of the wave's posts were accepted before it,
  some after (the figure `in_flight_at_kill` says how many of those before X had not received just
  after it);
- the dispatcher's kill cuts calls to the networks short (they answer slowly meanwhile, and the kill
  waits until a delivery is `publishing`): the restarted dispatcher logs `delivery.interrupted` for
  them, then reads the pages back.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from http.client import HTTPException
from typing import Any

from tests.docker_deployment import Deployment
from tests.harness import http

AGENCY = "lyon-part-dieu"
INTAKE = f"intake-{AGENCY}"
# lyon-part-dieu's pages in services/federation/data/demo_federation.csv: one on each of these.
NETWORKS = ("x", "mastodon", "bluesky", "linkedin", "facebook")
# The order of the issue; the summary line names intake `intake` and nats-server `nats`.
KILLED = ("dispatcher", "hub", "federation", INTAKE, "nats")
SHORT_NAMES = {INTAKE: "intake"}
# During the dispatcher's wave the networks answer slowly (the sandbox's `slow` fault), so that its
# kill lands during calls to them: outcomes unknown, to be reconciled by reading the pages back.
# The kill waits until a delivery of the wave is `publishing` at the agency (told once a call has run
# for a second).
SLOW_CALLS_S = {"dispatcher": 3.0}
# Every long-running container of the demo profile (init runs once and exits).
SERVICES = ("nats", "sandbox", "federation", "formatter", "hub", "dispatcher", INTAKE)
# Docker restarts at once (100 ms), the process starts in about a second, and the health check runs
# every 5 s: a container not healthy after this long did not come back.
RECOVERY_LIMIT_S = 60.0
FINAL_POST_STATUSES = {"published", "partially_published", "failed", "invalid", "rejected", "expired"}
# Before its first heartbeat the node does not know its pages yet: 422 `no_page_for_network` for a
# post to its networks, 403 `page_not_in_agency` for one naming its pages.
NOT_READY_CODES = ("no_page_for_network", "page_not_in_agency")


@dataclass
class PostAttempts:
    """One post of the burst: the markers of its attempts, and the one that was accepted."""

    index: int
    accepted: str | None = None  # marker of the attempt answered 202
    post_id: str | None = None
    accepted_at: float = 0.0  # time.monotonic() of the 202
    failed: list[str] = field(default_factory=list)  # markers of attempts without a 202
    refusals: list[tuple[int, Any]] = field(default_factory=list)  # 4xx answers to a valid post


@dataclass
class Recovery:
    """What one kill did to the containers."""

    service: str
    killed_at: float  # time.monotonic() of the SIGKILL
    in_flight: int  # posts accepted before the kill not on the sandbox's X yet just after it
    restarts_by_policy: int  # RestartCount after the kill minus before
    back_s: float  # SIGKILL → healthy again, by the restart policy alone
    restarted_s: float  # `docker compose restart` → healthy again
    others_restarted: dict[str, int]  # other containers whose RestartCount moved meanwhile
    wave_before: int = 0  # posts of the kill's wave accepted before it, and after it
    wave_after: int = 0


@dataclass
class Outcome:
    posts: list[PostAttempts]
    recoveries: list[Recovery]
    intake_posts: dict[str, dict[str, Any]]  # post id → intake's view, once final (or at the deadline)
    hub_statuses: dict[str, str]  # post id → status at the hub
    received: Counter[tuple[str, str]]  # (network, marker) → posts on the sandbox
    remote_ids: dict[tuple[str, str], list[str]]  # (network, marker) → their remote ids
    strays: list[str]  # sandbox texts with this run's prefix but no marker of an attempt
    audit_verify: subprocess.CompletedProcess[str]
    stream_messages: dict[str, int]  # JetStream stream → messages it holds, at the end
    interrupted: int  # deliveries the restarted dispatcher found cut off mid-call (its log)
    unhealthy_at_end: dict[str, str]
    drain_s: float  # last kill's restart → every accepted post final


def _state(deployment: Deployment, service: str) -> tuple[int, str, str, int]:
    info = deployment.inspect(service)
    state = info["State"]
    return int(info["RestartCount"]), state["Status"], state.get("Health", {}).get("Status", ""), state["Pid"]


def _restart_counts(deployment: Deployment) -> dict[str, int]:
    return {service: _state(deployment, service)[0] for service in SERVICES}


def _wait(check: Callable[[], bool], limit: float) -> float:
    """Seconds until `check` held, or `limit` + 1 when it never did within `limit`."""
    start = time.monotonic()
    while time.monotonic() - start < limit:
        if check():
            return time.monotonic() - start
        time.sleep(0.2)
    return limit + 1


class Burst:
    """Posts from the agency's intake, each retried with a new marker until it gets a 202."""

    def __init__(
        self, deployment: Deployment, token: str, deadline_s: float, pages: Callable[[int], list[str]] | None
    ) -> None:
        self.pages = pages
        self.url = f"{deployment.url(INTAKE)}/v1/posts"
        self.token = token
        self.run = secrets.token_hex(3).upper()
        self.deadline_s = deadline_s
        self.ready = threading.Event()  # set at the first 202: from then on, a 422 is a refusal
        self.accepted: list[str] = []  # markers of the attempts answered 202, as they come
        self.accepted_ids: list[str] = []
        self.lock = threading.Lock()
        self.pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="poster")
        self.futures: list[Future[PostAttempts]] = []

    def marker(self, index: int, attempt: int) -> str:
        return f"K{self.run}P{index}A{attempt}"

    def marker_in(self, text: str) -> str | None:
        found = re.search(rf"K{self.run}P\d+A\d+", text)
        return found.group() if found else None

    def text(self, marker: str) -> str:
        return f"Relais kill test {marker} : atelier CV #emploi"

    def post(self, index: int, not_before: float = 0.0) -> Future[PostAttempts]:
        future = self.pool.submit(self._post, index, not_before)
        self.futures.append(future)
        return future

    def _post(self, index: int, not_before: float) -> PostAttempts:
        time.sleep(max(0.0, not_before - time.monotonic()))
        attempts = PostAttempts(index)
        deadline = time.monotonic() + self.deadline_s
        attempt = 0
        while time.monotonic() < deadline:
            marker = self.marker(index, attempt)
            attempt += 1
            body: dict[str, Any] = {"text": self.text(marker), "networks": list(NETWORKS)}
            if self.pages:
                body["pages"] = self.pages(index)
            try:
                status, answer = http("POST", self.url, body, self.token)
            except (OSError, HTTPException):
                attempts.failed.append(marker)  # intake down or killed mid-request: not accepted
                time.sleep(0.5)
                continue
            if status == 202:
                attempts.accepted, attempts.post_id = marker, answer["id"]
                attempts.accepted_at = time.monotonic()
                with self.lock:
                    self.accepted.append(marker)
                    self.accepted_ids.append(answer["id"])
                self.ready.set()
                return attempts
            attempts.failed.append(marker)
            if status < 500:
                code = answer.get("error", {}).get("code") if isinstance(answer, dict) else None
                if self.ready.is_set() or code not in NOT_READY_CODES:
                    attempts.refusals.append((status, answer))
            time.sleep(0.5)
        return attempts

    def results(self) -> list[PostAttempts]:
        results = [future.result() for future in self.futures]
        self.pool.shutdown()
        return results


def _sandbox_posts(deployment: Deployment, run: str, network: str = "") -> list[dict[str, Any]]:
    posts = http("GET", f"{deployment.url('sandbox')}/_sandbox/posts?network={network}")[1]["posts"]
    return [post for post in posts if f"K{run}" in post["text"]]


def _in_flight(deployment: Deployment, burst: Burst) -> int:
    """Posts accepted so far that X (one network: a quick look) has not received yet."""
    with burst.lock:
        accepted = set(burst.accepted)
    received = sum(
        burst.marker_in(post["text"]) in accepted for post in _sandbox_posts(deployment, burst.run, "x")
    )
    return len(accepted) - received


def _calling(burst: Burst) -> bool:
    """True once a delivery of an accepted post is `publishing`: the dispatcher is calling its network."""
    with burst.lock:
        post_ids = list(burst.accepted_ids)
    for post_id in reversed(post_ids):
        status, view = http("GET", f"{burst.url}/{post_id}", token=burst.token)
        if status == 200 and any(d["status"] == "publishing" for d in view["deliveries"]):
            return True
    return False


def kill_and_restart(
    deployment: Deployment,
    service: str,
    burst: Burst,
    before: dict[str, int],
    rush: list[Future[PostAttempts]],
    after_kill: Callable[[], None],
) -> Recovery:
    """SIGKILL the main process from the host once a post of the wave's `rush` is accepted, call
    `after_kill` (the rest of the wave is posted from then on), wait for the restart policy to bring
    it back, then `docker compose restart` it (which sets its RestartCount back to 0) and wait until
    it is healthy. `before`: every container's RestartCount, read before the wave (reading it takes a
    while)."""
    _wait(lambda: any(future.done() for future in rush), RECOVERY_LIMIT_S)
    if service in SLOW_CALLS_S:
        _wait(lambda: _calling(burst), SLOW_CALLS_S[service] * 2)
    deployment.kill_main_process(service)
    killed_at = time.monotonic()
    after_kill()
    in_flight = _in_flight(deployment, burst)
    back_s = _wait(
        lambda: (state := _state(deployment, service))[0] > before[service] and state[2] == "healthy",
        RECOVERY_LIMIT_S,
    )
    after = _restart_counts(deployment)
    deployment.compose("restart", service)
    restarted_s = _wait(lambda: _state(deployment, service)[2] == "healthy", RECOVERY_LIMIT_S)
    return Recovery(
        service,
        killed_at,
        in_flight,
        restarts_by_policy=after[service] - before[service],
        back_s=back_s,
        restarted_s=restarted_s,
        others_restarted={
            s: after[s] - before[s] for s in SERVICES if s != service and after[s] != before[s]
        },
    )


def run(
    deployment: Deployment,
    posts: int,
    *,
    spread_s: float,
    kill_after_s: float,
    drain_s: float,
    pages: Callable[[int], list[str]] | None = None,
) -> Outcome:
    """Up, one post to make sure the node knows its pages, then one wave of posts per kill: half of
    it at once, its kill `kill_after_s` later once one of them is accepted (the others on their
    way), the other half spread over `spread_s - kill_after_s` from the kill on; then wait for every
    post to be final.
    Each post goes to the agency's page on each network, or to `pages(index)`, one per network."""
    deployment.up()
    token = deployment.token("advisor", "--agency", AGENCY)
    admin = deployment.token("admin")
    burst = Burst(deployment, token, RECOVERY_LIMIT_S * 3, pages)
    first = burst.post(0).result(timeout=RECOVERY_LIMIT_S * 3)
    assert first.accepted, f"the node never accepted a post: {first}"

    sandbox = deployment.url("sandbox")
    recoveries: list[Recovery] = []
    waves = [list(range(1, posts))[k :: len(KILLED)] for k in range(len(KILLED))]
    for service, wave in zip(KILLED, waves, strict=True):
        before = _restart_counts(deployment)
        start = time.monotonic()
        rush, trickle = wave[: len(wave) // 2], wave[len(wave) // 2 :]
        for network in NETWORKS if service in SLOW_CALLS_S else ():
            fault = {"network": network, "account": "*", "mode": "slow", "seconds": SLOW_CALLS_S[service]}
            assert http("POST", f"{sandbox}/_sandbox/faults", {**fault, "times": len(rush)})[0] < 300
        rushing = [burst.post(index, not_before=start) for index in rush]

        # The rest of the wave is posted from the kill on, whenever the kill comes: on a loaded
        # machine finding the container's process took longer than the whole wave, whose posts
        # were then all accepted before the kill (CI, 2026-12-06).
        def post_the_rest(trickle: list[int] = trickle) -> None:
            killed = time.monotonic()
            for k, index in enumerate(trickle):
                burst.post(index, not_before=killed + (spread_s - kill_after_s) * k / len(trickle))

        time.sleep(kill_after_s)
        recoveries.append(kill_and_restart(deployment, service, burst, before, rushing, post_the_rest))
        http("DELETE", f"{sandbox}/_sandbox/faults")
    results = burst.results()  # the first post's included
    by_index = {post.index: post for post in results}
    for recovery, wave in zip(recoveries, waves, strict=True):
        times = [by_index[i].accepted_at for i in wave if by_index[i].accepted]
        recovery.wave_before = sum(t < recovery.killed_at for t in times)
        recovery.wave_after = len(times) - recovery.wave_before

    intake = deployment.url(INTAKE)
    accepted = [p.post_id for p in results if p.post_id]
    views: dict[str, dict[str, Any]] = {}
    start = time.monotonic()
    while time.monotonic() - start < drain_s:
        for post_id in accepted:
            if views.get(post_id, {}).get("status") not in FINAL_POST_STATUSES:
                status, view = http("GET", f"{intake}/v1/posts/{post_id}", token=token)
                views[post_id] = view if status == 200 else {"status": f"http {status}", "answer": view}
        if all(views[p].get("status") in FINAL_POST_STATUSES for p in accepted):
            break
        time.sleep(1)
    drained_s = time.monotonic() - start

    hub = deployment.url("hub")
    hub_statuses = {p: http("GET", f"{hub}/v1/posts/{p}", token=admin)[1].get("status", "") for p in accepted}
    received: Counter[tuple[str, str]] = Counter()
    remote_ids: dict[tuple[str, str], list[str]] = {}
    strays = []
    for sent in _sandbox_posts(deployment, burst.run):
        marker = burst.marker_in(sent["text"])
        if not marker:
            strays.append(sent["text"])
            continue
        received[(sent["network"], marker)] += 1
        remote_ids.setdefault((sent["network"], marker), []).append(sent["remote_id"])
    audit = deployment.compose("exec", "-T", "hub", "relais", "audit", "verify", check=False)
    jsz = deployment.exec(
        "nats", "wget", "-q", "-O", "-", "http://127.0.0.1:8222/jsz?accounts=true&streams=true"
    )
    streams = {
        stream["name"]: int(stream["state"]["messages"])
        for account in json.loads(jsz).get("account_details", [])
        for stream in account.get("stream_detail", [])
    }
    dispatcher_log = deployment.compose("logs", "--no-color", "dispatcher", check=False).stdout
    interrupted = dispatcher_log.count('"delivery.interrupted"')
    unhealthy = {
        s: f"{state[1]}/{state[2]}"
        for s in SERVICES
        if (state := _state(deployment, s))[1] != "running" or state[2] != "healthy"
    }
    return Outcome(
        posts=results,
        recoveries=recoveries,
        intake_posts=views,
        hub_statuses=hub_statuses,
        received=received,
        remote_ids=remote_ids,
        strays=strays,
        audit_verify=audit,
        stream_messages=streams,
        interrupted=interrupted,
        unhealthy_at_end=unhealthy,
        drain_s=drained_s,
    )


def problems(outcome: Outcome) -> list[str]:
    """Every way the run broke the policy of this module's docstring (empty when it held)."""
    found: list[str] = []
    for post in outcome.posts:
        if not post.accepted:
            found.append(f"post {post.index} never accepted: {post.failed[-3:]}, {post.refusals[-1:]}")
        if post.refusals:
            found.append(f"post {post.index} refused after the node was ready: {post.refusals[:2]}")
        if post.accepted and post.post_id:
            view = outcome.intake_posts.get(post.post_id, {})
            deliveries = {d["network"]: d for d in view.get("deliveries", [])}
            if (
                view.get("status") != "published"
                or sorted(deliveries) != sorted(d["network"] for d in view.get("deliveries", []))
                or set(deliveries) != set(NETWORKS)
            ):
                found.append(f"{post.post_id} at the agency: {view}")
            hub_status = outcome.hub_statuses.get(post.post_id)
            if hub_status != "published":
                found.append(f"{post.post_id} at the hub: {hub_status}")
            for network in NETWORKS:
                delivery = deliveries.get(network, {})
                sent = outcome.received[(network, post.accepted)]
                ids = outcome.remote_ids.get((network, post.accepted), [])
                if delivery.get("status") != "published" or sent != 1 or ids != [delivery.get("remote_id")]:
                    found.append(
                        f"{post.post_id} on {network}: delivery {delivery.get('status')}"
                        f" ({delivery.get('remote_id')}), sandbox {sent} {ids}"
                    )
        for marker in post.failed:
            sent_per_network = [outcome.received[(network, marker)] for network in NETWORKS]
            if sent_per_network not in ([0] * len(NETWORKS), [1] * len(NETWORKS)):
                found.append(f"attempt {marker} without a 202 reached the networks {sent_per_network} times")
    known = {m for p in outcome.posts for m in [*p.failed, *([p.accepted] if p.accepted else [])]}
    found += [f"unknown marker on {n}: {m}" for (n, m) in outcome.received if m not in known]
    found += [f"sandbox post without a marker: {text!r}" for text in outcome.strays]
    # Each post is stored once on POSTS (its id as Nats-Msg-Id, expected subject sequence 0) and has
    # one decision on DECISIONS (auto-approved): both survive nats-server's kill with its JetStream.
    stored = sum(1 for p in outcome.posts if p.accepted) + sum(
        outcome.received[(NETWORKS[0], m)] for p in outcome.posts for m in p.failed
    )
    for stream in ("POSTS", "DECISIONS"):
        if outcome.stream_messages.get(stream) != stored:
            found.append(f"{stream} holds {outcome.stream_messages.get(stream)} messages for {stored} posts")
    if outcome.audit_verify.returncode != 0:
        found.append(f"audit verify: {outcome.audit_verify.stdout} {outcome.audit_verify.stderr}")
    for recovery in outcome.recoveries:
        if recovery.restarts_by_policy != 1 or recovery.back_s > RECOVERY_LIMIT_S:
            found.append(f"{recovery.service} after SIGKILL: {recovery}")
        if recovery.restarted_s > RECOVERY_LIMIT_S:
            found.append(f"{recovery.service} after docker compose restart: {recovery}")
        if recovery.others_restarted:
            found.append(f"killing {recovery.service} restarted {recovery.others_restarted}")
        if not (recovery.wave_before and recovery.wave_after):
            found.append(f"{recovery.service} was not killed during its wave of posts: {recovery}")
    if not outcome.interrupted:
        found.append("the dispatcher's kill cut no call to a network short: the run tested less than it says")
    if outcome.unhealthy_at_end:
        found.append(f"not running and healthy at the end: {outcome.unhealthy_at_end}")
    return found


def summary(outcome: Outcome) -> str:
    """The figures of one run, as `make bench` prints them."""
    accepted = [p.accepted for p in outcome.posts if p.accepted]
    once = sum(outcome.received[(n, m)] == 1 for m in accepted for n in NETWORKS)
    lost = sum(outcome.received[(n, m)] == 0 for m in accepted for n in NETWORKS)
    duplicates = sum(max(count - 1, 0) for count in outcome.received.values())
    stuck = sum(view.get("status") not in FINAL_POST_STATUSES for view in outcome.intake_posts.values())
    orphans = sum(outcome.received[(n, m)] for p in outcome.posts for m in p.failed for n in NETWORKS)
    killed = ",".join(SHORT_NAMES.get(r.service, r.service) for r in outcome.recoveries)
    return (
        f"compose_kills posts={len(accepted)} deliveries={len(accepted) * len(NETWORKS)} killed={killed}"
        f" restarts={sum(r.restarts_by_policy for r in outcome.recoveries)}"
        f" published_once={once} duplicates={duplicates} lost={lost} stuck={stuck}"
        f" unacknowledged={sum(len(p.failed) for p in outcome.posts)} unacknowledged_published={orphans}"
        f" interrupted_calls={outcome.interrupted}"
        f" in_flight_at_kill={'/'.join(str(r.in_flight) for r in outcome.recoveries)}"
        f" recovery_s_max={max(r.back_s for r in outcome.recoveries):.1f}"
        f" compose_restart_s_max={max(r.restarted_s for r in outcome.recoveries):.1f}"
        f" drain_s={outcome.drain_s:.1f}"
    )
