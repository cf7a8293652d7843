"""Advocates at the agency node (issue #16 items 2 and 5): a real node in process (real HTTP on
loopback, real SQLite file) and, where the hub side matters, a real nats-server with the deployment's
real users (relais/nats_auth.py) and the hub side's streams, buckets and consumers.

The policy, written by hand:
- an advisor of the agency opts in herself with `{"language", "accepted": true}`: the node records a
  pseudonym (`adv-` and 20 letters or digits), her user id, the date, the consent version `2026-12`,
  the language and the wording exactly as the page showed it in that language; asking again keeps
  her pseudonym and writes nothing; `accepted` other than true records nothing;
- opting out records the withdrawal's date, shows no consent and no account, and she can share no
  more; opting in again is a new consent under a NEW pseudonym (the old one keeps its withdrawal);
- no route takes an advocate id: another advisor's calls never reach her consent or accounts; an
  admin, ops or another agency's advisor has no consent to give here (403);
- her opt-in made while the link is cut reaches the hub once when it returns;
- a Bluesky app password is sealed at once with the dispatcher's key: neither the bus, nor the node's
  SQLite file, nor the logs, nor an error ever hold it in clear, and the dispatcher's private key opens
  it (for that advocate's Bluesky account only); without the dispatcher's key the node says 503;
- connecting X, LinkedIn or Mastodon asks the hub on `advocacy_connect.<agency>` for her (her
  pseudonym, never her name); without the link 503 `link_down`; the hub's refusal is a 4xx;
- the hub's `connected` and the dispatcher's `status` set the account's state, a disconnection is
  relayed, and `forgotten` erases everything the node held that named her;
- a node's NATS user cannot publish another agency's advocacy events, nor its own `connected`,
  `status` or `forgotten` (the hub side's), and nothing of it reaches the stream.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import nats
import pytest
from nacl.public import PrivateKey
from nats.aio.msg import Msg
from structlog.testing import capture_logs

from services.intake.advocacy_relay import relay_advocacy
from services.intake.advocate_lookup import advocate_of
from services.intake.advocates import apply_advocacy_event, enrol, opt_out
from services.intake.keys import DATABASE, LINK
from services.intake.store import open_store
from shared import bus
from shared.accounts import create_user
from shared.advocacy.accounts import (
    SEALING_BUCKET,
    SEALING_KEY,
    ConnectAnswer,
    ConnectRequest,
    connect_subject,
    credentials_purpose,
    is_advocate_id,
)
from shared.ids import utc_now
from shared.schemas import (
    AdvocateAccountStatus,
    AdvocateConnected,
    AdvocateEnrolled,
    AdvocateForgotten,
    decode,
    encode,
)
from shared.sealing import SealError, Unsealer
from shared.tokens import issue_token, load_or_create_private_key
from tests.harness import free_port
from tests.intake.conftest import AGENCY, Client, NodeFactory, auth
from tests.intake.inbox_bus import LYON, RENNES, HubSide, hub_side
from tests.intake.test_composer_page import PASSWORD, sign_in
from tests.tcp_proxy import TcpProxy
from tests.waiting import until

CONSENT_VERSION = "2026-12"
# The wording's first words in each language, as the translators wrote them (shared/i18n catalogs).
WORDING_STARTS = {
    "fr": "J’accepte de partager les actualités du service (#AvecPôleEmploi)",
    "ar": "أوافق على مشاركة أخبار المرفق (#AvecPôleEmploi)",
    "en": "I agree to share the service's stories (#AvecPôleEmploi)",
}
APP_PASSWORD = "zq7k-h2mx-u9vb-wp4c"  # unlike anything else the node writes
NETWORKS = ("x", "linkedin", "mastodon", "bluesky")


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[HubSide]:
    async with hub_side(tmp_path / "bus") as side:
        yield side


@pytest.fixture
def people(tokens: dict[str, str], tmp_path: Path) -> dict[str, str]:
    key = load_or_create_private_key(tmp_path / "keys" / "hub.pem")
    return {
        **tokens,
        "malik": issue_token(key, role="advisor", subject="malik", agency=AGENCY),
        "admin": issue_token(key, role="admin", subject="root"),
    }


async def call(node: Client, method: str, path: str, token: str, body: Any = None) -> tuple[int, Any]:
    response = await node.request(method, path, json=body, headers=auth(token))
    return response.status, await response.json()


async def opt_in(node: Client, token: str, language: str = "fr") -> dict[str, Any]:
    status, body = await call(
        node, "POST", "/v1/advocacy/consent", token, {"language": language, "accepted": True}
    )
    assert status in (200, 201), body
    return dict(body)


def outbox(node: Client) -> list[str]:
    """The event of every message the node wrote for the hub and the stream does not hold yet, in order."""
    rows = node.app[DATABASE].execute("select subject from advocacy_outbox order by seq")
    return [subject.rsplit(".", 1)[1] for (subject,) in rows]


async def test_consent_is_recorded_with_its_date_version_language_and_the_wording_shown(
    make_node: NodeFactory, people: dict[str, str]
) -> None:
    node = await make_node()  # offline: consent needs no link
    claire = people["advisor"]
    status, me = await call(node, "GET", "/v1/advocacy/me", claire)
    assert status == 200 and me["advocate"] is None and me["consent"] is None
    assert [(a["network"], a["status"]) for a in me["accounts"]] == [(n, "not_connected") for n in NETWORKS]

    for refused in (
        {"language": "ar", "accepted": False},
        {"language": "de", "accepted": True},
        {"language": "ar"},
    ):
        status, body = await call(node, "POST", "/v1/advocacy/consent", claire, refused)
        assert 400 <= status < 500 and set(body["error"]) == {"code", "message", "field"}, (refused, body)
    assert node.app[DATABASE].execute("select count(*) from advocates").fetchone()[0] == 0

    before = utc_now()
    status, me = await call(
        node, "POST", "/v1/advocacy/consent", claire, {"language": "ar", "accepted": True}
    )
    assert status == 201, me
    assert is_advocate_id(me["advocate"]) and re.fullmatch(r"adv-[a-z2-7]{20}", me["advocate"])
    consent = me["consent"]
    assert (consent["version"], consent["language"]) == (CONSENT_VERSION, "ar")
    assert before <= consent["given_at"] <= utc_now()
    assert consent["text"].startswith(WORDING_STARTS["ar"])
    [row] = (
        node.app[DATABASE]
        .execute(
            "select advocate, user, consented_at, consent_version, consent_language, consent_text,"
            " opted_out_at from advocates"
        )
        .fetchall()
    )
    assert row == (
        me["advocate"],
        "claire",
        consent["given_at"],
        CONSENT_VERSION,
        "ar",
        consent["text"],
        None,
    )

    # What the page shows in Arabic is what was stored.
    await sign_in_advisor(node)
    page = await (await node.get("/advocacy?lang=ar")).text()
    assert consent["text"] in page

    # Asked again (in another language): the same pseudonym, nothing written.
    status, again = await call(
        node, "POST", "/v1/advocacy/consent", claire, {"language": "fr", "accepted": True}
    )
    assert status == 200 and again["advocate"] == me["advocate"] and again["consent"]["language"] == "ar"
    assert outbox(node) == ["enrolled"]


async def test_opting_out_then_in_again_is_a_new_consent_under_a_new_pseudonym(
    make_node: NodeFactory, people: dict[str, str]
) -> None:
    node = await make_node()
    claire, db = people["advisor"], node.app[DATABASE]
    first = (await opt_in(node, claire, "fr"))["advocate"]
    assert first == advocate_of(db, "claire").advocate  # type: ignore[union-attr]
    db.execute(
        "insert into advocate_accounts (advocate, network, status, handle, updated_at)"
        " values (?, 'x', 'connected', '@claire', ?)",
        [first, utc_now()],
    )
    db.conn.commit()

    status, me = await call(node, "DELETE", "/v1/advocacy/consent", claire)
    assert status == 200 and me["advocate"] is None and me["consent"] is None
    assert all(a["status"] == "not_connected" for a in me["accounts"])
    assert advocate_of(db, "claire") is None  # no share possible
    opted_out_at = db.execute("select opted_out_at from advocates where advocate = ?", [first]).fetchone()[0]
    assert opted_out_at and opted_out_at <= utc_now()
    assert (await call(node, "DELETE", "/v1/advocacy/consent", claire))[0] == 200  # nothing more to withdraw

    second = (await opt_in(node, claire, "en"))["advocate"]
    assert second != first and is_advocate_id(second)
    rows = db.execute("select advocate, opted_out_at is null from advocates order by consented_at").fetchall()
    assert rows == [(first, 0), (second, 1)]
    assert outbox(node) == ["enrolled", "opted_out", "enrolled"]


async def test_the_caller_is_the_advocate_and_no_one_acts_on_anothers(
    make_node: NodeFactory, people: dict[str, str]
) -> None:
    node = await make_node()
    claire_id = (await opt_in(node, people["advisor"]))["advocate"]
    malik = people["malik"]

    status, me = await call(node, "GET", "/v1/advocacy/me", malik)
    assert status == 200 and me["advocate"] is None
    # An advocate id in a body is no field of any route.
    status, body = await call(
        node,
        "POST",
        "/v1/advocacy/consent",
        malik,
        {"language": "fr", "accepted": True, "advocate": claire_id},
    )
    assert (status, body["error"]["code"], body["error"]["field"]) == (400, "unknown_field", "advocate")
    for method, path, sent in (
        ("DELETE", "/v1/advocacy/consent", None),
        ("DELETE", "/v1/advocacy/accounts/x", None),
        (
            "POST",
            "/v1/advocacy/accounts/bluesky",
            {"identifier": "claire.bsky.social", "app_password": "a-b-c-d"},
        ),
    ):
        status, body = await call(node, method, path, malik, sent)
        assert status in (200, 409), (path, body)  # malik's own (none): never claire's
    assert advocate_of(node.app[DATABASE], "claire") is not None
    assert outbox(node) == ["enrolled"]

    for caller in ("admin", "ops", "other_agency"):
        probes: tuple[tuple[str, str, Any], ...] = (
            ("GET", "/v1/advocacy/me", None),
            ("POST", "/v1/advocacy/consent", {"language": "fr", "accepted": True}),
            ("DELETE", "/v1/advocacy/consent", None),
        )
        for method, path, sent in probes:
            status, body = await call(node, method, path, people[caller], sent)
            assert status == 403, (caller, path, body)
    assert node.app[DATABASE].execute("select count(*) from advocates").fetchone()[0] == 1


async def test_an_opt_in_made_while_the_link_is_cut_reaches_the_hub_once_when_it_returns(
    hub: HubSide, make_node: NodeFactory, people: dict[str, str]
) -> None:
    link = TcpProxy(free_port(), hub.port)
    link.start()
    try:
        node = await make_node(nats_url=hub.agency_url(LYON, port=link.listen_port))
        await until(lambda: _link(node, True))
        link.cut()
        await until(lambda: _link(node, False))
        advocate = (await opt_in(node, people["advisor"], "fr"))["advocate"]
        await asyncio.sleep(1.0)
        assert await stream_messages(hub, f"advocacy.{LYON}.{advocate}.enrolled") == []  # not while cut

        link.restore()
        await until(lambda: stream_messages(hub, f"advocacy.{LYON}.{advocate}.enrolled"), within=30)
        await until(lambda: _all_relayed(node))
        await asyncio.sleep(1.0)  # a second copy would be on its way by now
        [data] = await stream_messages(hub, f"advocacy.{LYON}.{advocate}.enrolled")
        sent = decode(data, AdvocateEnrolled)
        assert (sent.agency, sent.advocate, sent.user, sent.consent_version) == (
            LYON,
            advocate,
            "claire",
            "2026-12",
        )
        assert sent.consent_text.startswith(WORDING_STARTS["fr"]) and sent.post_id == ""
    finally:
        link.close()


async def test_every_event_reaches_the_stream_though_the_outbox_emptied_between_them(
    hub: HubSide, tmp_path: Path
) -> None:
    """The outbox keeps no relayed row, so its numbers start again: no message id may repeat."""
    db = open_store(tmp_path / "relay.db")
    nc = await bus.connect(hub.agency_url(LYON), bus.agency_client(LYON))
    try:
        consent, _ = enrol(db, LYON, "claire", "fr")
        assert await relay_advocacy(nc, db) == 1
        assert opt_out(db, LYON, "claire") == consent.advocate
        assert await relay_advocacy(nc, db) == 1
        assert await relay_advocacy(nc, db) == 0
    finally:
        await nc.close()
        db.close()
    for kind in ("enrolled", "opted_out"):
        assert len(await stream_messages(hub, f"advocacy.{LYON}.{consent.advocate}.{kind}")) == 1, kind


def test_news_count_only_for_the_advocate_their_subject_names(tmp_path: Path) -> None:
    db = open_store(tmp_path / "news.db")
    try:
        consent, _ = enrol(db, LYON, "claire", "fr")
        news = AdvocateAccountStatus(
            post_id="",
            agency=LYON,
            occurred_at=utc_now(),
            advocate=consent.advocate,
            network="x",
            status="connected",
        )
        apply_advocacy_event(db, LYON, f"advocacy.{LYON}.{UNKNOWN_ADVOCATE}.status", encode(news))
        apply_advocacy_event(db, LYON, f"advocacy.{RENNES}.{consent.advocate}.status", encode(news))
        assert db.execute("select count(*) from advocate_accounts").fetchone()[0] == 0
        apply_advocacy_event(db, LYON, f"advocacy.{LYON}.{consent.advocate}.status", encode(news))
        assert advocate_of(db, "claire").connected == {"x"}  # type: ignore[union-attr]
    finally:
        db.close()


async def _link(node: Client, up: bool) -> bool:
    return bool(node.app[LINK].connected) == up


async def _all_relayed(node: Client) -> bool:
    return outbox(node) == []  # each deleted once the stream holds it


async def stream_messages(hub: HubSide, subject: str) -> list[bytes]:
    """Every message of the ADVOCACY stream on `subject` (wildcards allowed), in order."""
    js = hub.nc.jetstream()
    info = await js.stream_info("ADVOCACY", subjects_filter=subject)
    count = sum((info.state.subjects or {}).values())
    found: list[bytes] = []
    if count:
        sub = await js.subscribe(subject, ordered_consumer=True)
        try:
            for _ in range(count):
                found.append((await sub.next_msg(timeout=5)).data)
        finally:
            await sub.unsubscribe()
    return found


async def test_a_bluesky_app_password_is_sealed_at_once_and_never_kept_sent_or_logged_in_clear(
    hub: HubSide, make_node: NodeFactory, people: dict[str, str], tmp_path: Path
) -> None:
    node = await make_node(nats_url=hub.agency_url(LYON))
    claire = people["advisor"]
    advocate = (await opt_in(node, claire))["advocate"]
    body = {"identifier": "claire.bsky.social", "app_password": APP_PASSWORD}
    status, refused = await call(node, "POST", "/v1/advocacy/accounts/bluesky", claire, body)
    assert (status, refused["error"]["code"]) == (503, "no_sealing_key")  # no dispatcher's key yet

    dispatcher = Unsealer(PrivateKey.generate())
    kv = await hub.nc.jetstream().key_value(SEALING_BUCKET)
    await kv.put(SEALING_KEY, dispatcher.public_key.encode())
    await until(lambda: _me(node, claire, lambda me: me["sealing_ready"]))

    with capture_logs() as logs:
        for wrong in (
            {**body, "pds": 7},
            {**body, "pds": "http://pds.example"},
            {**body, "identifier": "a b"},
        ):
            status, answer = await call(node, "POST", "/v1/advocacy/accounts/bluesky", claire, wrong)
            assert 400 <= status < 500 and APP_PASSWORD not in json.dumps(answer), answer
        status, account = await call(node, "POST", "/v1/advocacy/accounts/bluesky", claire, body)
    assert status == 202, account
    assert account == {"network": "bluesky", "status": "connecting", "handle": "claire.bsky.social"}
    assert APP_PASSWORD not in repr(logs)

    [data] = await until(lambda: stream_messages(hub, f"advocacy.{LYON}.{advocate}.app_password"))
    sent = decode(data, AdvocateConnected)
    assert (sent.network, sent.account_id, sent.handle, sent.instance) == (
        "bluesky",
        "claire.bsky.social",
        "claire.bsky.social",
        None,
    )
    opened = json.loads(
        dispatcher.open(sent.sealed_credentials, purpose=credentials_purpose(advocate, "bluesky"))
    )
    assert opened == {"identifier": "claire.bsky.social", "password": APP_PASSWORD}
    with pytest.raises(SealError):  # sealed for her Bluesky account, not another advocate's
        dispatcher.open(
            sent.sealed_credentials, purpose=credentials_purpose("adv-aaaaaaaaaaaaaaaaaaaa", "bluesky")
        )
    everything = b"".join(await stream_messages(hub, "advocacy.>"))
    assert APP_PASSWORD.encode() not in everything
    assert files_holding(tmp_path, APP_PASSWORD.encode()) == []

    # The dispatcher logged in with it: the account is connected, and sharing may use it.
    await publish_status(hub, advocate, "bluesky", "connected")
    await until(lambda: _me(node, claire, lambda me: me["accounts"][3]["status"] == "connected"))
    assert advocate_of(node.app[DATABASE], "claire").connected == {"bluesky"}  # type: ignore[union-attr]


def files_holding(root: Path, needle: bytes) -> list[Path]:
    """The node's files (its SQLite file, write-ahead log, media…) that hold `needle`."""
    files = [path for path in root.rglob("*") if path.is_file() and "bus" not in path.parts]
    assert any(path.suffix == ".db" for path in files), files
    return [path for path in files if needle in path.read_bytes()]


async def _me(node: Client, token: str, check: Any) -> bool:
    status, me = await call(node, "GET", "/v1/advocacy/me", token)
    return status == 200 and bool(check(me))


async def publish_status(hub: HubSide, advocate: str, network: str, status: str) -> None:
    event = AdvocateAccountStatus(
        post_id="", agency=LYON, occurred_at=utc_now(), advocate=advocate, network=network, status=status
    )
    await hub.publish(f"advocacy.{LYON}.{advocate}.status", event, f"status:{advocate}:{network}:{utc_now()}")


async def test_connecting_asks_the_hub_for_her_and_the_news_follow(
    hub: HubSide, make_node: NodeFactory, people: dict[str, str]
) -> None:
    offline = await make_node()
    claire = people["advisor"]
    await opt_in(offline, claire)
    status, body = await call(offline, "POST", "/v1/advocacy/accounts/x/connect", claire, {})
    assert (status, body["error"]["code"]) == (503, "link_down")
    await offline.close()

    node = await make_node(nats_url=hub.agency_url(LYON))  # the same file, now online
    await until(lambda: _link(node, True))
    advocate = (await opt_in(node, claire))["advocate"]  # her consent given offline stands
    status, body = await call(node, "POST", "/v1/advocacy/accounts/x/connect", claire, {})
    assert (status, body["error"]["code"]) == (503, "hub_unavailable")  # no one answers at the hub

    asked: list[ConnectRequest] = []

    async def answer(msg: Msg) -> None:
        request = msgspec.json.decode(msg.data, type=ConnectRequest)
        asked.append(request)
        if request.network == "linkedin":
            reply = ConnectAnswer(error="network_not_configured", message="LinkedIn's app is not set up")
        else:
            reply = ConnectAnswer(authorization_url=f"https://auth.example/{request.network}?state=s1")
        await msg.respond(msgspec.json.encode(reply))

    sub = await hub.nc.subscribe(connect_subject(LYON), cb=answer)
    await hub.nc.flush()  # the server knows of the responder before the node asks
    try:

        async def answered() -> tuple[int, dict[str, Any]] | None:
            # The flush makes the hub's server know the responder; the agency's account, which reaches
            # it through an import, may still answer "no responders" for a moment (a CI run saw it).
            # That request never reaches the responder, so `asked` is not touched.
            path, sent = "/v1/advocacy/accounts/mastodon/connect", {"instance": "https://piaille.fr"}
            status, body = await call(node, "POST", path, claire, sent)
            return None if status == 503 and body["error"]["code"] == "hub_unavailable" else (status, body)

        status, body = await until(answered, within=10, what="the hub's responder, seen from the agency")
        assert (status, body) == (200, {"authorization_url": "https://auth.example/mastodon?state=s1"})
        status, body = await call(node, "POST", "/v1/advocacy/accounts/linkedin/connect", claire, {})
        assert (status, body["error"]["code"]) == (422, "network_not_configured")
        for path, sent, code in (
            ("mastodon", {}, "instance_required"),
            ("x", {"instance": "https://piaille.fr"}, "instance_not_taken"),
            ("bluesky", {}, "app_password_network"),
            ("facebook", {}, "not_found"),
        ):
            status, body = await call(node, "POST", f"/v1/advocacy/accounts/{path}/connect", claire, sent)
            assert body["error"]["code"] == code and 400 <= status < 500, (path, body)
    finally:
        await sub.unsubscribe()
    assert [(a.advocate, a.network, a.instance) for a in asked] == [
        (advocate, "mastodon", "https://piaille.fr"),
        (advocate, "linkedin", None),
    ]
    assert all("claire" not in msgspec.json.encode(a).decode() for a in asked)  # her pseudonym only
    status, body = await call(node, "POST", "/v1/advocacy/accounts/x/connect", people["malik"], {})
    assert (status, body["error"]["code"]) == (409, "not_an_advocate")

    # The hub's callback connected Mastodon; later the dispatcher found X's token expired.
    connected = AdvocateConnected(
        post_id="",
        agency=LYON,
        occurred_at=utc_now(),
        advocate=advocate,
        network="mastodon",
        account_id="109",
        handle="claire@piaille.fr",
        instance="https://piaille.fr",
        sealed_credentials="sealed:v1:opaque",
    )
    await hub.publish(f"advocacy.{LYON}.{advocate}.connected", connected, f"connected:{advocate}:mastodon")
    await publish_status(hub, advocate, "x", "needs_reauth")
    await publish_status(hub, UNKNOWN_ADVOCATE, "x", "connected")  # no one here: nothing is made of it

    def states(me: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
        return {a["network"]: (a["status"], a["handle"]) for a in me["accounts"]}

    await until(lambda: _me(node, claire, lambda me: states(me)["x"][0] == "needs_reauth"))
    status, me = await call(node, "GET", "/v1/advocacy/me", claire)
    assert states(me) == {
        "x": ("needs_reauth", None),
        "linkedin": ("not_connected", None),
        "mastodon": ("connected", "claire@piaille.fr"),
        "bluesky": ("not_connected", None),
    }

    status, body = await call(node, "DELETE", "/v1/advocacy/accounts/mastodon", claire)
    assert (status, body["status"]) == (200, "not_connected")
    [data] = await until(lambda: stream_messages(hub, f"advocacy.{LYON}.{advocate}.disconnected"))
    assert json.loads(data)["network"] == "mastodon"
    assert advocate_of(node.app[DATABASE], "claire").connected == frozenset()  # type: ignore[union-attr]

    # `relais advocates forget claire` at the hub: nothing at the node names her any more.
    forgotten = AdvocateForgotten(
        post_id="", agency=LYON, occurred_at=utc_now(), advocate=advocate, by="root"
    )
    await hub.publish(f"advocacy.{LYON}.{advocate}.forgotten", forgotten, f"forgotten:{advocate}")
    db = node.app[DATABASE]

    async def erased() -> bool:
        return not db.execute("select 1 from advocates where advocate = ?", [advocate]).fetchone()

    await until(erased)
    for table in ("advocates", "advocate_accounts", "advocacy_outbox"):
        assert db.execute(f"select count(*) from {table} where advocate = ?", [advocate]).fetchone()[0] == 0
    assert db.execute("select count(*) from advocates where user = 'claire'").fetchone()[0] == 0
    assert db.execute("select count(*) from advocate_accounts").fetchone()[0] == 0  # nor the unknown one's


UNKNOWN_ADVOCATE = "adv-nobodynobodynobodyn"


async def test_a_nodes_nats_user_cannot_publish_what_the_hub_side_says(hub: HubSide) -> None:
    violations: list[str] = []

    async def on_error(exc: Exception) -> None:
        violations.append(str(exc).lower())

    nc = await nats.connect(
        hub.agency_url(LYON), inbox_prefix=bus.agency_client(LYON).inbox_prefix, error_cb=on_error
    )
    advocate = "adv-aaaaaaaaaaaaaaaaaaaa"
    refused = [
        f"advocacy.{RENNES}.{advocate}.enrolled",  # another agency's advisor
        f"advocacy.{RENNES}.{advocate}.opted_out",
        f"advocacy.{RENNES}.{advocate}.app_password",
        f"advocacy.{LYON}.{advocate}.connected",  # the hub's OAuth callback alone says so
        f"advocacy.{LYON}.{advocate}.status",
        f"advocacy.{LYON}.{advocate}.forgotten",
        connect_subject(RENNES),
    ]
    try:
        for subject in refused:
            await nc.publish(subject, b"{}")
        await nc.flush()
        allowed = await nc.jetstream().publish(f"advocacy.{LYON}.{advocate}.enrolled", b"{}", timeout=5)
        assert allowed.stream == "ADVOCACY"  # the node's own events go through
        await asyncio.sleep(1.0)
    finally:
        await nc.close()
    text = " ".join(violations)
    for subject in refused:
        assert f'permissions violation for publish to "{subject}"' in text, subject
    assert await stream_messages(hub, f"advocacy.{RENNES}.>") == []
    for kind in ("connected", "status", "forgotten"):
        assert await stream_messages(hub, f"advocacy.{LYON}.*.{kind}") == []


async def sign_in_advisor(node: Client, username: str = "claire") -> None:
    if not node.app[DATABASE].execute("select 1 from users where username = ?", [username]).fetchone():
        create_user(node.app[DATABASE], username, "advisor", None, PASSWORD, agency=AGENCY)
    await sign_in(node, username)
