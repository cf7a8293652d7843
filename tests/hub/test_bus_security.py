"""The hub's NATS tried as an attacker holding a real agency's credentials, on a real system (the
nats-server configured by `relais run` with its real users, two real agency nodes and the hub side).

The expected outcome of every attempt comes from the policy below, written by hand: an agency user
publishes its own posts, refusals and heartbeat, fills its own media bucket, reads through its own
consumers (the hub makes both, each consumer pinned to the agency's subjects), and receives on its
own inbox prefix `_INBOX_agency-<id>` only. Everything else is refused, the way NATS refuses: a permissions
violation reported to the client's error callback, and no reply to a refused request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import nats
import nats.js.errors
import pytest
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import StreamConfig

from shared.ids import new_post_id, utc_now
from shared.schemas import AgencyHeartbeat, PostReceived, Target, encode
from tests.harness import RelaisSystem, eventually, http
from tests.images import jpeg
from tests.test_media_end_to_end import upload

LYON, RENNES = "lyon-part-dieu", "rennes-sud"  # the attacker and its victim
ATTACKER_INBOX = f"_INBOX_agency-{LYON}"  # the policy's prefix for LYON, spelled out by hand
VICTIM_INBOX = f"_INBOX_agency-{RENNES}"

# Subscriptions the attacker tries; only its own prefix is allowed.
REFUSED_SUBSCRIPTIONS = [
    ">",
    "_INBOX.>",  # nats-py's default prefix, where every client's replies used to travel
    "_INBOX.*",
    f"{VICTIM_INBOX}.>",
    "_INBOX_hub_hub.>",
    "_INBOX_hub_federation.>",
    "_INBOX_hub_formatter.>",
    "_INBOX_hub_dispatcher.>",
    "*.>",
    f"posts.{RENNES}.*",
    f"decisions.{LYON}.>",  # even its own decisions: only through its consumers
    "agencies.>",
    f"$O.media-{RENNES}.>",
    f"$O.media-{LYON}.>",
    "$KV.pages.>",
    "$KV.advisor_accounts.>",  # advisors' accounts: only through its own consumer
    f"$KV.advisor_accounts.{RENNES}.*",
    f"$KV.advisor_accounts.{LYON}.*",
    "$KV.advocacy_stories.>",  # stories of a topic restricted to another agency: only its own consumer
    f"$KV.advocacy_stories.{RENNES}.*",
    "$JS.API.>",
    "$JS.ACK.>",
]

# Publishes (and JetStream API requests) the attacker tries; each must be refused.
REFUSED_PUBLISHES = [
    # Acting as another agency, or as the hub.
    f"posts.{RENNES}.{RENNES}-forged",
    f"security.{RENNES}.forged",
    f"agencies.{RENNES}.heartbeat",
    f"decisions.{LYON}.{LYON}-x.approved",
    f"deliveries.{LYON}.{LYON}-x.published",
    f"variants.{LYON}.{LYON}-x.rendered",
    f"targets.{LYON}.{LYON}-x",
    f"commands.{LYON}.{LYON}-x.retry",
    f"alerts.{LYON}.{LYON}-x.dead_letter",
    # Advocacy (#16): the hub side alone refreshes tokens (it holds the refresh tokens and the apps'
    # secrets), says an account connected or what became of it, and forgets; a node asks for its own
    # agency's connections and speaks of no other agency's advocates.
    "advocacy_refresh",
    f"advocacy_connect.{RENNES}",
    f"advocacy.{LYON}.adv-aaaaaaaaaaaaaaaaaaaa.connected",
    f"advocacy.{LYON}.adv-aaaaaaaaaaaaaaaaaaaa.status",
    f"advocacy.{LYON}.adv-aaaaaaaaaaaaaaaaaaaa.forgotten",
    f"advocacy.{RENNES}.adv-aaaaaaaaaaaaaaaaaaaa.enrolled",
    f"advocacy.{RENNES}.adv-aaaaaaaaaaaaaaaaaaaa.opted_out",
    # Streams: an agency creates, changes, lists or reads none, not even its own media bucket.
    f"$JS.API.STREAM.CREATE.OBJ_media-{LYON}",
    f"$JS.API.STREAM.UPDATE.OBJ_media-{LYON}",
    f"$JS.API.STREAM.DELETE.OBJ_media-{LYON}",
    f"$JS.API.STREAM.PURGE.OBJ_media-{LYON}",
    f"$JS.API.STREAM.MSG.DELETE.OBJ_media-{LYON}",
    f"$JS.API.STREAM.CREATE.OBJ_media-{RENNES}",
    f"$JS.API.STREAM.UPDATE.OBJ_media-{RENNES}",
    f"$JS.API.STREAM.INFO.OBJ_media-{RENNES}",
    f"$JS.API.STREAM.PURGE.OBJ_media-{RENNES}",
    "$JS.API.STREAM.CREATE.SNIFF",
    "$JS.API.STREAM.UPDATE.POSTS",
    "$JS.API.STREAM.DELETE.POSTS",
    "$JS.API.STREAM.PURGE.POSTS",
    "$JS.API.STREAM.INFO.POSTS",
    "$JS.API.STREAM.INFO.DECISIONS",
    "$JS.API.STREAM.LIST",
    "$JS.API.STREAM.NAMES",
    "$JS.API.INFO",
    # Reading messages other than through its own consumers.
    "$JS.API.STREAM.MSG.GET.POSTS",
    "$JS.API.STREAM.MSG.GET.DECISIONS",
    f"$JS.API.STREAM.MSG.GET.OBJ_media-{RENNES}",
    "$JS.API.STREAM.MSG.GET.KV_pages",
    f"$JS.API.DIRECT.GET.OBJ_media-{RENNES}",
    f"$JS.API.DIRECT.GET.OBJ_media-{LYON}",
    "$JS.API.DIRECT.GET.KV_pages",
    f"$JS.API.DIRECT.GET.KV_pages.$KV.pages.{RENNES}.{RENNES}-x",
    "$JS.API.DIRECT.GET.DECISIONS",
    # Another agency's advisor accounts (hashes), by any way other than its own filtered consumer.
    "$JS.API.STREAM.MSG.GET.KV_advisor_accounts",
    "$JS.API.STREAM.INFO.KV_advisor_accounts",
    "$JS.API.DIRECT.GET.KV_advisor_accounts",
    f"$JS.API.DIRECT.GET.KV_advisor_accounts.$KV.advisor_accounts.{RENNES}.636c61697265",
    f"$JS.API.CONSUMER.INFO.KV_advisor_accounts.intake-{RENNES}-advisors",
    f"$JS.API.CONSUMER.MSG.NEXT.KV_advisor_accounts.intake-{RENNES}-advisors",
    f"$JS.ACK.KV_advisor_accounts.intake-{RENNES}-advisors.1.1.1.1.0",
    f"$JS.API.CONSUMER.CREATE.KV_advisor_accounts.intake-{LYON}-advisors.$KV.advisor_accounts.{RENNES}.*",
    "$JS.API.CONSUMER.CREATE.KV_advisor_accounts.sniff.$KV.advisor_accounts.>",
    f"$KV.advisor_accounts.{LYON}.636c61697265",  # writing an account, even for its own agency
    # Another agency's advocacy stories (a topic restricted to it), by any way but its own consumer.
    "$JS.API.STREAM.MSG.GET.KV_advocacy_stories",
    "$JS.API.DIRECT.GET.KV_advocacy_stories",
    f"$JS.API.DIRECT.GET.KV_advocacy_stories.$KV.advocacy_stories.{RENNES}.01JEZ0000000000000000000AB",
    f"$JS.API.CONSUMER.MSG.NEXT.KV_advocacy_stories.intake-{RENNES}-stories",
    f"$JS.API.CONSUMER.CREATE.KV_advocacy_stories.intake-{LYON}-stories.$KV.advocacy_stories.{RENNES}.*",
    f"$KV.advocacy_stories.{LYON}.01JEZ0000000000000000000AB",  # offering itself a story
    # Consumers: the hub makes the agency's own (a created one could push anywhere); it creates,
    # deletes, lists or borrows none.
    f"$JS.API.CONSUMER.CREATE.DECISIONS.intake-{LYON}-decisions.decisions.{LYON}.*.*",
    f"$JS.API.CONSUMER.CREATE.KV_pages.intake-{LYON}-pages.$KV.pages.{LYON}.*",
    f"$JS.API.CONSUMER.CREATE.DECISIONS.intake-{LYON}-decisions.decisions.{RENNES}.*.*",
    f"$JS.API.CONSUMER.CREATE.DECISIONS.intake-{LYON}-decisions",
    f"$JS.API.CONSUMER.CREATE.DECISIONS.intake-{RENNES}-decisions.decisions.{RENNES}.*.*",
    "$JS.API.CONSUMER.CREATE.DECISIONS",
    f"$JS.API.CONSUMER.DURABLE.CREATE.DECISIONS.intake-{LYON}-decisions",
    f"$JS.API.CONSUMER.CREATE.POSTS.sniff.posts.{RENNES}.*",
    f"$JS.API.CONSUMER.CREATE.OBJ_media-{RENNES}.sniff.$O.media-{RENNES}.C.>",
    f"$JS.API.CONSUMER.CREATE.KV_pages.intake-{LYON}-pages.$KV.pages.{RENNES}.*",
    f"$JS.API.CONSUMER.DELETE.DECISIONS.intake-{LYON}-decisions",
    f"$JS.API.CONSUMER.DELETE.DECISIONS.intake-{RENNES}-decisions",
    f"$JS.API.CONSUMER.INFO.DECISIONS.intake-{RENNES}-decisions",
    f"$JS.API.CONSUMER.MSG.NEXT.DECISIONS.intake-{RENNES}-decisions",
    "$JS.API.CONSUMER.LIST.DECISIONS",
    "$JS.API.CONSUMER.NAMES.DECISIONS",
    f"$JS.ACK.DECISIONS.intake-{RENNES}-decisions.1.1.1.1.0",
    # Other agencies' objects and any key-value write.
    f"$O.media-{RENNES}.C.forged",
    f"$O.media-{RENNES}.M.forged",
    f"$KV.pages.{LYON}.{LYON}-x",
    f"$KV.pages.{RENNES}.{RENNES}-x",
    "$KV.revoked_tokens.forged",
    # Another client's inbox: no injecting replies.
    f"{VICTIM_INBOX}.forged",
    "_INBOX_hub_dispatcher.forged",
    "_INBOX.forged",
]

# Requests the policy allows: a reply proves the probe would have seen one for a refused request.
ALLOWED_REQUESTS = [
    f"$JS.API.CONSUMER.INFO.DECISIONS.intake-{LYON}-decisions",
    f"$JS.API.STREAM.INFO.OBJ_media-{LYON}",
    f"$JS.API.CONSUMER.INFO.KV_advisor_accounts.intake-{LYON}-advisors",
]


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RelaisSystem]:
    relais = RelaisSystem(Path(tmp_path_factory.mktemp("bus-security")), agencies=[LYON, RENNES])
    try:
        relais.start()
        eventually(lambda: asyncio.run(buckets_made(relais)), timeout=30)  # on each node's first contact
        yield relais
    finally:
        relais.stop()


async def buckets_made(relais: RelaisSystem) -> bool:
    hub = await nats.connect(relais.nats_url)
    try:
        for agency in (LYON, RENNES):
            await hub.jetstream().stream_info(f"OBJ_media-{agency}")
    except nats.js.errors.NotFoundError:
        return False
    finally:
        await hub.close()
    return True


class Probe:
    """A raw client signed in as an agency, recording what NATS refuses and what it receives."""

    def __init__(self) -> None:
        self.violations: list[str] = []
        self.received: list[Msg] = []
        self.nc: NATS | None = None

    async def connect(self, relais: RelaisSystem, agency: str) -> NATS:
        async def on_error(exc: Exception) -> None:
            self.violations.append(str(exc).lower())

        self.nc = await nats.connect(
            relais.agency_nats_url(agency),
            inbox_prefix=f"_INBOX_agency-{agency}",
            error_cb=on_error,
            allow_reconnect=False,
        )
        return self.nc

    async def record(self, msg: Msg) -> None:
        self.received.append(msg)

    def refused(self, kind: str, subject: str) -> bool:
        return f'permissions violation for {kind} to "{subject.lower()}"' in " ".join(self.violations)


async def attack(relais: RelaisSystem) -> tuple[Probe, dict[str, bytes]]:
    """Every refused subscription and publish, each publish with a reply subject of our own."""
    probe = Probe()
    nc = await probe.connect(relais, LYON)
    replies: dict[str, bytes] = {}
    subjects = REFUSED_PUBLISHES + ALLOWED_REQUESTS

    async def on_reply(msg: Msg) -> None:
        replies[subjects[int(msg.subject.rsplit(".", 1)[1])]] = msg.data

    try:
        for subject in REFUSED_SUBSCRIPTIONS:
            await nc.subscribe(subject, cb=probe.record)
        await nc.subscribe(f"{ATTACKER_INBOX}.probe.*", cb=on_reply)
        for index, subject in enumerate(subjects):
            await nc.publish(subject, b"{}", reply=f"{ATTACKER_INBOX}.probe.{index}")
        await nc.flush()
        await asyncio.sleep(1.5)  # JetStream answers in milliseconds; a refused request never
    finally:
        await nc.close()
    return probe, replies


def test_every_subject_family_an_agency_might_abuse_is_refused(system: RelaisSystem) -> None:
    probe, replies = asyncio.run(attack(system))

    for subject in REFUSED_SUBSCRIPTIONS:
        assert probe.refused("subscription", subject), subject
    for subject in REFUSED_PUBLISHES:
        assert probe.refused("publish", subject), subject
        assert subject not in replies, (subject, replies[subject])
    for subject in ALLOWED_REQUESTS:
        assert subject in replies and b'"error"' not in replies[subject], (subject, replies.get(subject))
    assert probe.received == []

    # And nothing changed at the hub: the media buckets keep the subjects the hub gave them.
    async def state() -> dict[str, object]:
        hub = await nats.connect(system.nats_url)
        try:
            js = hub.jetstream()
            media = (await js.stream_info(f"OBJ_media-{LYON}")).config
            names = {info.config.name for info in await js.streams_info()}
        finally:
            await hub.close()
        return {"media_subjects": sorted(media.subjects or []), "names": names}

    found = asyncio.run(state())
    assert found["media_subjects"] == [f"$O.media-{LYON}.C.>", f"$O.media-{LYON}.M.>"]
    assert "SNIFF" not in found["names"]  # type: ignore[operator]


def test_an_agency_sniffing_all_it_can_receives_nothing_of_another_agencys_busy_post(
    system: RelaisSystem,
) -> None:
    """RENNES listens everywhere it may and tries everywhere it may not, while LYON's node relays
    a post with an image and the hub side targets, renders, approves and publishes it. The post
    reaching `published` at LYON's node also shows a node still does its job under this policy."""
    image = jpeg(640, 480, comment=b"affiche-secrete-lyon " * 400)
    marker = "Texte-confidentiel-de-Lyon"

    async def sniff() -> tuple[Probe, str]:
        probe = Probe()
        nc = await probe.connect(system, RENNES)
        try:
            await nc.subscribe(f"{VICTIM_INBOX}.>", cb=probe.record)  # its own: allowed
            for subject in ("_INBOX.>", ">", f"{ATTACKER_INBOX}.>", "_INBOX_hub_dispatcher.>", "agencies.>"):
                await nc.subscribe(subject, cb=probe.record)
            await nc.flush()
            stored = await asyncio.to_thread(upload, system, image)
            status, accepted = await asyncio.to_thread(
                system.post,
                {
                    "text": f"{marker} #emploi",
                    "networks": ["mastodon"],
                    "media": [{"id": stored["id"], "alt": "Affiche"}],
                },
                LYON,
            )
            assert status == 202, accepted
            await asyncio.to_thread(system.wait_status, accepted["id"], ("published",), LYON, 60)
            await asyncio.sleep(0.5)
        finally:
            await nc.close()
        return probe, str(accepted["id"])

    probe, post_id = asyncio.run(sniff())

    leaked = [
        m.subject
        for m in probe.received
        if post_id.encode() in m.data or marker.encode() in m.data or image[200:264] in m.data
    ]
    assert leaked == [], f"{len(leaked)} messages of {LYON}'s post reached {RENNES}: {leaked[:5]}"
    assert all(m.subject.startswith(f"{VICTIM_INBOX}.") for m in probe.received)
    for subject in ("_INBOX.>", ">", f"{ATTACKER_INBOX}.>", "_INBOX_hub_dispatcher.>", "agencies.>"):
        assert probe.refused("subscription", subject), subject


def test_a_post_sent_straight_to_nats_acts_only_as_its_subjects_agency_on_its_pages(
    system: RelaisSystem,
) -> None:
    """NATS pins the subject; the body is the attacker's. Sent with LYON's own credentials: a post
    on RENNES's subject (refused by NATS), one on LYON's subject naming RENNES as its agency, one
    of LYON's own aimed at RENNES's page, and a national campaign: none reaches a network, the
    hub records none as RENNES's, and the last two end invalid (what intake refuses before 202)."""

    def forged_post(agency: str, post_id: str, marker: str, **fields: object) -> PostReceived:
        return PostReceived(
            post_id=post_id,
            agency=agency,
            occurred_at=utc_now(),
            author="intrus",
            text=f"{marker} faux",
            **fields,  # type: ignore[arg-type]
        )

    other_subject_id, claimed_id = new_post_id(RENNES), new_post_id(LYON)
    their_page_id, national_id = new_post_id(LYON), new_post_id(LYON)
    attempts = [
        (
            f"posts.{RENNES}.{other_subject_id}",
            forged_post(RENNES, other_subject_id, "F1", targets=[Target("mastodon", f"{RENNES}-mastodon")]),
        ),
        (
            f"posts.{LYON}.{claimed_id}",
            forged_post(RENNES, claimed_id, "F2", targets=[Target("mastodon", f"{RENNES}-mastodon")]),
        ),
        (
            f"posts.{LYON}.{their_page_id}",
            forged_post(LYON, their_page_id, "F3", targets=[Target("mastodon", f"{RENNES}-mastodon")]),
        ),
        (
            f"posts.{LYON}.{national_id}",
            forged_post(LYON, national_id, "F4", selectors=["nation"], networks=["mastodon"]),
        ),
    ]

    async def send() -> Probe:
        probe = Probe()
        nc = await probe.connect(system, LYON)
        for subject, post in attempts:
            await nc.publish(subject, encode(post))
        await nc.flush()
        await asyncio.sleep(0.3)
        await nc.close()
        return probe

    probe = asyncio.run(send())
    assert probe.refused("publish", attempts[0][0])

    def invalid(post_id: str) -> bool:
        return (system.hub_post(post_id) or {}).get("status") == "invalid"

    eventually(lambda: invalid(their_page_id) and invalid(national_id))
    time.sleep(1.0)  # anything wrongly approved would be on its way to the sandbox by now
    texts = [str(item) for item in system.sandbox_posts()]
    for marker in ("F1", "F2", "F3", "F4"):
        assert not any(f"{marker} faux" in text for text in texts), marker
    assert system.hub_post(other_subject_id) is None
    assert system.hub_post(claimed_id) is None  # not recorded as RENNES's


def test_an_agency_cannot_widen_its_media_bucket_over_others_subjects(system: RelaisSystem) -> None:
    """Finding 2: an agency-made media stream on `agencies.>` and another agency's `$O.` subjects
    read every heartbeat and blocked that agency's uploads. The hub makes the bucket; the agency
    may neither create nor update it."""
    evil = StreamConfig(
        name=f"OBJ_media-{LYON}",
        subjects=[f"$O.media-{LYON}.C.>", f"$O.media-{LYON}.M.>", f"$O.media-{RENNES}.>", "agencies.>"],
    )

    async def widen() -> tuple[Probe, list[str]]:
        probe = Probe()
        js = (await probe.connect(system, LYON)).jetstream(timeout=1)
        outcomes = []
        for attempt in (js.add_stream, js.update_stream):
            try:
                await attempt(evil)
                outcomes.append("accepted")
            except nats.errors.TimeoutError:
                outcomes.append("no answer")
            except nats.js.errors.APIError as exc:
                outcomes.append(f"answered {exc.err_code}")
        assert probe.nc is not None
        await probe.nc.close()
        return probe, outcomes

    probe, outcomes = asyncio.run(widen())
    assert outcomes == ["no answer", "no answer"]
    assert probe.refused("publish", f"$JS.API.STREAM.CREATE.OBJ_media-{LYON}")
    assert probe.refused("publish", f"$JS.API.STREAM.UPDATE.OBJ_media-{LYON}")


def test_a_heartbeat_counts_only_for_the_agency_whose_subject_it_came_on(system: RelaisSystem) -> None:
    """The body of a heartbeat names an agency; NATS checks only the subject. An agency claiming
    another's contact in its own heartbeat is not believed."""

    async def spoof() -> None:
        nc = await Probe().connect(system, LYON)
        beat = AgencyHeartbeat(agency="ghost-agency", sent_at=utc_now(), outbox_pending=999)
        for _ in range(3):
            await nc.publish(f"agencies.{LYON}.heartbeat", msgspec.json.encode(beat))
        await nc.flush()
        await nc.close()

    asyncio.run(spoof())
    eventually(lambda: any(a["agency"] == LYON for a in agencies(system)))
    time.sleep(0.5)
    assert "ghost-agency" not in {a["agency"] for a in agencies(system)}


def agencies(relais: RelaisSystem) -> list[dict[str, Any]]:
    status, body = http("GET", f"{relais.hub_url}/v1/agencies", token=relais.token("admin"))
    assert status == 200, body
    return list(body["agencies"])
