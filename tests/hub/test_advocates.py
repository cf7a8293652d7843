"""Advocates at the hub (issue #16 items 2 and 5), on real components: the hub's link table, its OAuth
callback against the sandbox's authorisation servers, credential sealing, refresh, and forget.

The policy, written by hand:
- an enrolment writes a link row for a pseudonym of its subject's agency; a pseudonym already another
  agency's, or not a pseudonym, is refused (audited, no row); a body naming another agency or
  advocate than its subject is dropped (no row, no audit entry);
- a node may start a connection for its own enrolled, not opted-out advocates only, on X, LinkedIn or
  Mastodon (an https instance), returning to an http(s) page; each consent ends, at the callback, in
  `AdvocateConnected` whose sealed credentials open with the dispatcher's key alone, for that
  advocate and network, holding the account's token; the page links back to the node, in the
  language she consented in; a declined consent publishes `refused`;
- a state works once, for ten minutes, on its own network's callback: anything else is a 400 page;
- nothing on the bus carries a token, a refresh token, a client secret or a PKCE verifier;
- the audit never names the person (user name, handle, consent wording);
- `forget` leaves no link row, state, refresh token or enrolment message of the pseudonym, writes one
  `advocate.forgotten` entry, and the chain still verifies;
- refresh: a new sealed token (X rotates its refresh token); without a refresh token or when the
  network refuses, an error and `needs_reauth` for that advocate's account only.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import msgspec
import nats.js.errors
import pytest
from aiohttp.test_utils import unused_port
from nats.aio.msg import Msg

from relais.system import write_sandbox_oauth_apps
from services.hub.advocates_forget import forget
from services.hub.advocates_oauth import Connections
from services.hub.chain import verify_chain
from services.hub.keys import LINK
from services.hub.oauth_apps import OAuthApp, OAuthApps, load_oauth_apps
from services.hub.oauth_callback import CONNECTIONS
from services.hub.settings import Settings
from services.hub.store import chain_entries
from shared import bus
from shared.advocacy.accounts import (
    REFRESH_SUBJECT,
    SEALING_BUCKET,
    SEALING_KEY,
    ConnectAnswer,
    ConnectRequest,
    RefreshAnswer,
    RefreshRequest,
    advocacy_subject,
    credentials_purpose,
    new_advocate_id,
)
from shared.advocacy.oauth import AppCredentials
from shared.ids import utc_now
from shared.schemas import AdvocateAccountStatus, AdvocateConnected, AdvocateDisconnected, decode_any
from shared.sealing import SealError
from tests.hub.advocates_kit import (
    CLIENT_SECRETS,
    INSTANCE,
    LYON,
    RENNES,
    RETURN_TO,
    AdvocacyHub,
    advocacy_hub,
    state_of,
)
from tests.waiting import until

RELAIS = Path(sys.executable).parent / "relais"  # the installed entry point
USER = "claire.dupont"  # the person; her accounts on the networks are `claire`
EXPECTED_ACCOUNTS = {  # (token, handle) as the sandbox's networks name `claire`, by the networks' rules
    "x": ("sbx-x-claire", "@claire"),
    "linkedin": ("sbx-linkedin-claire", "claire"),
    "mastodon": ("sbx-mastodon-claire", "claire@mastodon.example"),
}


@pytest.fixture
async def advocacy(tmp_path: Path, nats_url: str) -> Any:
    async with advocacy_hub(tmp_path, nats_url) as hub:
        yield hub


async def enrolled(hub: AdvocacyHub, agency: str = LYON, user: str = USER) -> str:
    advocate = new_advocate_id()
    await hub.enrol(advocate, user, agency)
    await until(lambda: hub.link_row(advocate))
    return advocate


async def stream_messages(hub: AdvocacyHub, subject: str) -> list[Any]:
    """Every message of the ADVOCACY stream on `subject` (a filter), in order."""
    js = hub.nc.jetstream()
    found: list[Any] = []
    seq = 1
    while True:
        try:
            message = await js.get_msg("ADVOCACY", seq, subject=subject, next=True)
        except nats.js.errors.NotFoundError:
            return found
        assert message.data is not None and message.subject is not None and message.seq is not None
        found.append(decode_any(message.subject, message.data))
        seq = message.seq + 1


def audit_rows(hub: AdvocacyHub) -> list[dict[str, Any]]:
    return hub.db.execute_returning_dicts("select * from audit order by id")


@pytest.mark.parametrize("network", ["x", "linkedin", "mastodon"])
async def test_each_network_connects_an_advocate_and_seals_her_token_for_the_dispatcher(
    advocacy: AdvocacyHub, network: str
) -> None:
    advocate = await enrolled(advocacy)
    status, page = await advocacy.connect(advocate, network)
    assert status == 200, page
    assert f'href="{RETURN_TO}"' in page and 'lang="ar"' in page  # she consented in Arabic

    subject = f"advocacy.{LYON}.{advocate}.connected"
    [connected] = await stream_messages(advocacy, subject)
    assert isinstance(connected, AdvocateConnected)
    token, handle = EXPECTED_ACCOUNTS[network]
    assert (connected.network, connected.handle, connected.agency) == (network, handle, LYON)
    assert connected.instance == (INSTANCE if network == "mastodon" else None)
    opened = json.loads(
        advocacy.unsealer.open(connected.sealed_credentials, purpose=credentials_purpose(advocate, network))
    )
    assert opened["token"] == token
    with pytest.raises(SealError):  # bound to her account on this network: not replayable as another's
        advocacy.unsealer.open(connected.sealed_credentials, purpose=credentials_purpose(advocate, "x-other"))
    refresh = advocacy.db.execute_returning_dicts("select * from advocate_refresh_tokens")
    if network == "x":  # only X gives Relais a refresh token; kept encrypted
        [row] = refresh
        assert row["refresh_token"].startswith("enc:v1:") and "sbx-refresh" not in row["refresh_token"]
    else:
        assert refresh == []


async def test_a_mastodon_token_is_sealed_with_the_address_the_hub_reached_her_account_at(
    advocacy: AdvocacyHub,
) -> None:
    """With an app whose `root` stands for the network (the sandbox of `make run`), her instance is
    reached there: the dispatcher must post where the token works, not at the address she typed."""
    advocate = await enrolled(advocacy)
    assert (await advocacy.connect(advocate, "mastodon"))[0] == 200
    [connected] = await stream_messages(advocacy, f"advocacy.{LYON}.{advocate}.connected")
    assert connected.instance == INSTANCE  # the instance she named, and her handle's host
    purpose = credentials_purpose(advocate, "mastodon")
    opened = json.loads(advocacy.unsealer.open(connected.sealed_credentials, purpose=purpose))
    assert opened["instance"] == advocacy.networks_url


async def test_a_declined_consent_connects_nothing_and_says_refused(advocacy: AdvocacyHub) -> None:
    advocate = await enrolled(advocacy)
    answer = await advocacy.ask(advocate, "x")
    assert answer.authorization_url is not None
    location = await advocacy.consent("x", answer.authorization_url, decision="deny")
    status, page = await advocacy.callback(location, Cookie="relais_lang=en")
    assert status == 200 and "You declined" in page and f'href="{RETURN_TO}"' in page

    async def statuses() -> list[Any]:
        return await stream_messages(advocacy, f"advocacy.{LYON}.{advocate}.status")

    for _ in range(50):
        if found := await statuses():
            break
        await asyncio.sleep(0.05)
    assert [(s.status, s.network) for s in found] == [("refused", "x")]
    assert await stream_messages(advocacy, f"advocacy.{LYON}.{advocate}.connected") == []
    assert (await advocacy.callback(location))[0] == 400  # spent


async def test_a_state_works_once_on_its_own_network_and_not_after_ten_minutes(advocacy: AdvocacyHub) -> None:
    advocate = await enrolled(advocacy)
    answer = await advocacy.ask(advocate, "x")
    assert answer.authorization_url is not None
    location = await advocacy.consent("x", answer.authorization_url)
    state = state_of(location)
    query = location.split("?", 1)[1]

    assert (await advocacy.hub.get(f"/oauth/linkedin/callback?{query}")).status == 400  # another network's
    assert (await advocacy.hub.get(f"/oauth/bluesky/callback?{query}")).status == 400  # no such callback
    forged = query.replace(state, state[:-2] + ("AA" if not state.endswith("AA") else "BB"))
    assert (await advocacy.hub.get(f"/oauth/x/callback?{forged}")).status == 400
    assert (await advocacy.hub.get("/oauth/x/callback?code=abc")).status == 400  # no state

    assert (await advocacy.callback(location))[0] == 200
    status, page = await advocacy.callback(location)  # replayed
    assert status == 400 and "lang=" in page
    assert len(await stream_messages(advocacy, f"advocacy.{LYON}.{advocate}.connected")) == 1

    later = await advocacy.ask(advocate, "x")
    assert later.authorization_url is not None
    stale = await advocacy.consent("x", later.authorization_url)
    advocacy.db.execute(
        "update advocate_oauth_states set expires_at = '2000-01-01T00:00:00+00:00' where state = ?",
        [state_of(stale)],
    )
    advocacy.db.conn.commit()
    assert (await advocacy.callback(stale))[0] == 400


async def test_a_node_connects_only_its_own_enrolled_advocates_to_known_networks(
    advocacy: AdvocacyHub,
) -> None:
    ours = await enrolled(advocacy)
    theirs = await enrolled(advocacy, agency=RENNES, user="karim")
    leaving = await enrolled(advocacy, user="ines")
    await advocacy.opt_out(leaving)
    await until(lambda: (row := advocacy.link_row(leaving)) and row["opted_out_at"])

    refusals = {
        "unknown_advocate": await advocacy.ask(new_advocate_id(), "x"),
        "other_agency": await advocacy.ask(theirs, "x"),
        "opted_out": await advocacy.ask(leaving, "x"),
        "unknown_network": await advocacy.ask(ours, "bluesky"),
        "invalid_instance": await advocacy.ask(ours, "mastodon", instance="http://mastodon.example"),
    }
    for code, answer in refusals.items():
        assert (answer.error, answer.authorization_url) == (code, None), code
        assert answer.message
    no_instance = await advocacy.ask(ours, "mastodon")
    assert no_instance.error == "invalid_instance"
    javascript = await advocacy.ask(ours, "x", return_to="javascript:alert(1)")
    assert javascript.error == "invalid_return_to"
    reply = await advocacy.node.request(f"advocacy_connect.{LYON}", b"{not json", timeout=5)
    assert json.loads(reply.data)["error"] == "invalid_request"
    assert advocacy.db.execute("select count(*) from advocate_oauth_states").fetchone()[0] == 0


async def test_an_enrolment_is_refused_for_another_agencys_pseudonym_or_a_non_pseudonym(
    advocacy: AdvocacyHub,
) -> None:
    advocate = await enrolled(advocacy)
    await advocacy.enrol(advocate, "intrus", RENNES)  # Rennes claims Lyon's advocate
    await advocacy.enrol("claire", "claire", LYON)  # not a pseudonym: a name
    forged = new_advocate_id()
    await advocacy.enrol(forged, "x", LYON, body_agency=RENNES)  # subject Lyon, body Rennes

    def refusals() -> list[dict[str, Any]]:
        return [r for r in audit_rows(advocacy) if r["event"] == "advocate.enrolment_refused"]

    found = await until(lambda: len(refusals()) == 2 and refusals())
    assert sorted(json.loads(r["detail"])["reason"] for r in found) == [
        "enrolled by another agency",
        "not an advocate id",
    ]
    row = advocacy.link_row(advocate)
    assert row is not None and (row["agency"], row["user"]) == (LYON, USER)
    assert advocacy.link_row("claire") is None and advocacy.link_row(forged) is None
    await asyncio.sleep(0.3)
    assert not [r for r in audit_rows(advocacy) if forged in (r["actor"] or "") + (r["detail"] or "")]


async def test_no_token_secret_or_verifier_crosses_the_bus_during_a_connection(advocacy: AdvocacyHub) -> None:
    seen: list[bytes] = []

    async def sniff(msg: Msg) -> None:
        seen.append(msg.subject.encode() + msg.data + json.dumps(msg.headers or {}).encode())

    await advocacy.node.subscribe(">", cb=sniff)
    advocate = await enrolled(advocacy)
    for network in ("x", "linkedin", "mastodon"):
        assert (await advocacy.connect(advocate, network))[0] == 200
    refreshed = await advocacy.nc.request(
        REFRESH_SUBJECT, msgspec.json.encode(RefreshRequest(advocate=advocate, network="x")), timeout=10
    )
    assert msgspec.json.decode(refreshed.data, type=RefreshAnswer).error is None
    await until(lambda: any(b".connected" in s for s in seen))
    await asyncio.sleep(0.3)
    everything = b"\n".join(seen)
    for secret in (
        *CLIENT_SECRETS,
        "sbx-x-claire",
        "sbx-linkedin-claire",
        "sbx-mastodon-claire",
        "sbx-refresh",
    ):
        assert secret.encode() not in everything, secret
    assert b"code_verifier" not in everything


async def test_the_audit_of_an_advocate_names_no_person(advocacy: AdvocacyHub) -> None:
    advocate = await enrolled(advocacy)
    assert (await advocacy.connect(advocate, "x"))[0] == 200
    await advocacy.opt_out(advocate)
    events = await until(
        lambda: (
            {"advocate.enrolled", "advocate.connected", "advocate.opted_out"}
            <= {r["event"] for r in audit_rows(advocacy)}
            and audit_rows(advocacy)
        )
    )
    assert all(r["actor"] == advocate for r in events if r["event"].startswith("advocate."))
    text = json.dumps(events)
    for personal in (USER, "claire", "J'accepte", "sealed"):
        assert personal not in text, personal
    enrolment = next(r for r in events if r["event"] == "advocate.enrolled")
    assert json.loads(enrolment["detail"])["consent_language"] == "ar"
    # Her opting out dropped what the hub held for her accounts.
    assert advocacy.db.execute("select count(*) from advocate_refresh_tokens").fetchone()[0] == 0


async def test_forget_erases_the_link_the_tokens_and_the_enrolment_with_one_audit_entry(
    advocacy: AdvocacyHub,
) -> None:
    advocate = await enrolled(advocacy)
    other = await enrolled(advocacy, user="karim")
    assert (await advocacy.connect(advocate, "x"))[0] == 200
    assert (await advocacy.ask(advocate, "linkedin")).authorization_url  # a connection under way
    await until(lambda: any(r["event"] == "advocate.enrolled" for r in audit_rows(advocacy)))

    done = await forget(advocacy.db, advocacy.nc.jetstream(), USER, None, "cli:ops")

    assert [(d.advocate, d.agency, d.refresh_tokens, d.states, d.purged) for d in done] == [
        (advocate, LYON, 1, 2, 2)  # her enrolment and her X account's connection
    ]
    assert advocacy.link_row(advocate) is None and advocacy.link_row(other) is not None
    for table in ("advocate_oauth_states", "advocate_refresh_tokens"):
        assert (
            advocacy.db.execute(f"select count(*) from {table} where advocate = ?", [advocate]).fetchone()[0]
            == 0
        )
    assert await stream_messages(advocacy, f"advocacy.*.{advocate}.enrolled") == []
    assert await stream_messages(advocacy, f"advocacy.*.{advocate}.connected") == []  # her handle
    assert len(await stream_messages(advocacy, f"advocacy.*.{other}.enrolled")) == 1
    assert [m.by for m in await stream_messages(advocacy, f"advocacy.{LYON}.{advocate}.forgotten")] == [
        "cli:ops"
    ]
    await asyncio.sleep(0.5)  # the audit reads the announcement too: still one entry
    forgotten = [r for r in audit_rows(advocacy) if r["event"] == "advocate.forgotten"]
    assert [(r["actor"], json.loads(r["detail"])) for r in forgotten] == [("cli:ops", {"advocate": advocate})]
    assert USER not in json.dumps(audit_rows(advocacy))
    checked, broken = verify_chain(chain_entries(advocacy.db))
    assert broken is None and checked == len(audit_rows(advocacy))
    assert await forget(advocacy.db, advocacy.nc.jetstream(), USER, None, "cli:ops") == []


async def refresh(hub: AdvocacyHub, advocate: str, network: str) -> RefreshAnswer:
    asked = msgspec.json.encode(RefreshRequest(advocate=advocate, network=network))
    reply = await hub.nc.request(REFRESH_SUBJECT, asked, timeout=10)
    return msgspec.json.decode(reply.data, type=RefreshAnswer)


async def test_refresh_seals_a_new_token_and_a_refused_one_needs_reauth_for_that_advocate_only(
    advocacy: AdvocacyHub,
) -> None:
    advocate, other = await enrolled(advocacy), await enrolled(advocacy, user="karim")
    for who in (advocate, other):
        assert (await advocacy.connect(who, "x"))[0] == 200
    assert (await advocacy.connect(advocate, "linkedin"))[0] == 200

    def stored(who: str) -> str:
        row = advocacy.db.execute(
            "select refresh_token from advocate_refresh_tokens where advocate = ? and network = 'x'", [who]
        ).fetchone()
        return str(row[0]) if row else ""

    before = stored(advocate)
    answer = await refresh(advocacy, advocate, "x")
    assert answer.error is None and answer.sealed_credentials and answer.expires_at
    opened = json.loads(
        advocacy.unsealer.open(answer.sealed_credentials, purpose=credentials_purpose(advocate, "x"))
    )
    assert opened["token"] == "sbx-x-claire"
    assert stored(advocate) not in ("", before)  # X rotated it

    # The network refuses her (rotated) old refresh token: she must connect again; the other does not.
    advocacy.db.execute(
        "update advocate_refresh_tokens set refresh_token = ? where advocate = ?", [before, advocate]
    )
    advocacy.db.conn.commit()
    refused = await refresh(advocacy, advocate, "x")
    assert refused.error and refused.sealed_credentials is None
    assert (await refresh(advocacy, advocate, "linkedin")).error  # LinkedIn gives no refresh token
    assert (await refresh(advocacy, new_advocate_id(), "x")).error

    async def statuses() -> list[AdvocateAccountStatus]:
        found = await stream_messages(advocacy, "advocacy.*.*.status")
        return [m for m in found if isinstance(m, AdvocateAccountStatus)]

    for _ in range(50):
        if len(found := await statuses()) >= 2:
            break
        await asyncio.sleep(0.05)
    assert sorted((s.advocate, s.network, s.status) for s in found) == sorted(
        [(advocate, "x", "needs_reauth"), (advocate, "linkedin", "needs_reauth")]
    )
    assert stored(other) and (await refresh(advocacy, other, "x")).error is None


async def test_another_agency_cannot_opt_out_or_disconnect_an_advocate(advocacy: AdvocacyHub) -> None:
    advocate = await enrolled(advocacy)
    assert (await advocacy.connect(advocate, "x"))[0] == 200
    js = advocacy.node.jetstream()
    for agency in (RENNES, LYON):  # Rennes first (refused), then her own agency
        disconnected = AdvocateDisconnected(
            post_id="", agency=agency, occurred_at=utc_now(), advocate=advocate, network="x"
        )
        await advocacy.opt_out(advocate, agency=RENNES)
        await bus.publish(js, advocacy_subject(agency, advocate, "disconnected"), disconnected, f"{agency}.d")
        if agency == RENNES:
            await asyncio.sleep(0.5)
            row = advocacy.link_row(advocate)
            assert row is not None and row["opted_out_at"] is None
            assert advocacy.db.execute("select count(*) from advocate_refresh_tokens").fetchone()[0] == 1
    await until(
        lambda: advocacy.db.execute("select count(*) from advocate_refresh_tokens").fetchone()[0] == 0
    )


async def test_relais_advocates_forget_prints_what_it_did(
    advocacy: AdvocacyHub, tmp_path: Path, nats_url: str
) -> None:
    """The command as an operator runs it, beside the running hub (its database, its NATS)."""
    advocate = await enrolled(advocacy)
    env = {**os.environ, "RELAIS_DATA_DIR": str(tmp_path / "hub"), "RELAIS_NATS_URL": nats_url}
    command = [str(RELAIS), "advocates", "forget", USER, "--agency", LYON]
    process = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    assert out.decode().startswith(f"forgot {advocate} ({LYON}): link row deleted")
    assert advocacy.link_row(advocate) is None
    [entry] = [r for r in audit_rows(advocacy) if r["event"] == "advocate.forgotten"]
    assert entry["actor"].startswith("cli")
    again = await asyncio.create_subprocess_exec(*command, env=env, stdout=asyncio.subprocess.PIPE)
    assert b"nothing to forget" in (await asyncio.wait_for(again.communicate(), 60))[0]


def test_make_run_writes_the_sandbox_apps_and_never_replaces_an_operators(tmp_path: Path) -> None:
    target = tmp_path / "keys" / "oauth-apps.json"
    assert write_sandbox_oauth_apps(target, "http://127.0.0.1:8700", "http://127.0.0.1:8702")
    assert target.stat().st_mode & 0o777 == 0o600
    apps = load_oauth_apps(target)
    x = apps.get("x")
    assert x is not None and x.root == "http://127.0.0.1:8702"
    assert (x.credentials.client_id, x.credentials.redirect_uri) == (
        "sbx-x-client",
        "http://127.0.0.1:8700/oauth/x/callback",
    )
    assert "sbx-x-secret" not in repr(apps) and "sbx-x-secret" not in repr(x)
    assert write_sandbox_oauth_apps(target, "http://127.0.0.1:9700", "http://127.0.0.1:9702")  # new ports
    own = {
        "x": {
            "client_id": "relais-prod",
            "client_secret": "s3cret",
            "redirect_uri": "https://hub/oauth/x/callback",
        }
    }
    target.write_text(json.dumps(own))
    assert not write_sandbox_oauth_apps(target, "http://127.0.0.1:8700", "http://127.0.0.1:8702")
    assert json.loads(target.read_text()) == own
    target.write_text('{"bluesky": {}}')
    with pytest.raises(ValueError, match="bluesky") as refused:
        load_oauth_apps(target)
    assert "s3cret" not in str(refused.value)


async def test_without_the_dispatchers_key_nothing_is_spent_and_a_reload_connects(
    tmp_path: Path, nats_url: str
) -> None:
    async with advocacy_hub(tmp_path, nats_url, sealing_key=False) as hub:
        advocate = await enrolled(hub)
        answer = await hub.ask(advocate, "linkedin")
        assert answer.authorization_url is not None
        location = await hub.consent("linkedin", answer.authorization_url)
        status, page = await hub.callback(location)
        assert status == 503 and f'href="{RETURN_TO}"' in page
        assert await stream_messages(hub, f"advocacy.*.{advocate}.connected") == []
        kv = await bus.ensure_key_value(hub.nc.jetstream(), SEALING_BUCKET)
        await kv.put(SEALING_KEY, hub.unsealer.public_key.encode())  # the dispatcher starts
        assert (await hub.callback(location))[0] == 200  # the same code, never exchanged before
        assert len(await stream_messages(hub, f"advocacy.*.{advocate}.connected")) == 1


async def test_two_expiries_read_at_once_refresh_once_after_the_other(advocacy: AdvocacyHub) -> None:
    """X rotates its refresh token: two refreshes racing with the same one would lose the account."""
    advocate = await enrolled(advocacy)
    assert (await advocacy.connect(advocate, "x"))[0] == 200
    connections = advocacy.hub.app[CONNECTIONS]  # called at once, as the hub's responder does
    asked = RefreshRequest(advocate=advocate, network="x")
    answers = await asyncio.gather(*(connections.refresh(asked) for _ in range(3)))
    assert [a.error for a in answers] == [None, None, None]


async def test_renewals_of_one_account_racing_over_the_bus_keep_it(advocacy: AdvocacyHub) -> None:
    """The responder runs renewals side by side: three asked at once for the same X account (two
    dispatcher shards and a retry) still go one after the other, each with the token the last one
    rotated, so none is refused and the account never needs reconnecting."""
    advocate = await enrolled(advocacy)
    assert (await advocacy.connect(advocate, "x"))[0] == 200

    answers = await asyncio.gather(*(refresh(advocacy, advocate, "x") for _ in range(3)))

    assert [a.error for a in answers] == [None, None, None]
    assert await stream_messages(advocacy, f"advocacy.*.{advocate}.status") == []


async def test_renewals_for_two_advocates_are_in_flight_together(advocacy: AdvocacyHub) -> None:
    """One slow token endpoint must not hold every other advocate's renewal up: the token endpoint
    here answers no one until both renewals are waiting at it (the NATS request times out first if
    the hub asks it one after the other)."""
    first, second = await enrolled(advocacy), await enrolled(advocacy, user="karim")
    for who in (first, second):
        assert (await advocacy.connect(who, "x"))[0] == 200
    advocacy.gate.hold(2)

    answers = await asyncio.gather(refresh(advocacy, first, "x"), refresh(advocacy, second, "x"))

    assert [a.error for a in answers] == [None, None]
    assert all(a.sealed_credentials for a in answers)


async def test_a_network_that_does_not_answer_keeps_the_refresh_token(
    advocacy: AdvocacyHub, tmp_path: Path, nats_url: str
) -> None:
    advocate = await enrolled(advocacy)
    assert (await advocacy.connect(advocate, "x"))[0] == 200
    settings = Settings.from_env({"RELAIS_DATA_DIR": str(tmp_path / "hub"), "RELAIS_NATS_URL": nats_url})
    down = f"http://127.0.0.1:{unused_port()}"  # nothing listens there
    credentials = AppCredentials("sbx-x-client", "sbx-x-secret", f"{advocacy.hub_url}/oauth/x/callback")
    apps = OAuthApps({"x": OAuthApp(credentials, down)})
    cut_off = Connections(advocacy.db, apps, settings.secret_box(), advocacy.hub.app[LINK])
    answer = await cut_off.refresh(RefreshRequest(advocate=advocate, network="x"))
    assert answer.error == "unreachable" and answer.sealed_credentials is None
    assert advocacy.db.execute("select count(*) from advocate_refresh_tokens").fetchone()[0] == 1
    assert await stream_messages(advocacy, f"advocacy.*.{advocate}.status") == []
    assert (await refresh(advocacy, advocate, "x")).error is None  # the network back: it still works


async def test_a_mastodon_app_connects_accounts_of_its_own_instance_only(
    advocacy: AdvocacyHub, tmp_path: Path, nats_url: str
) -> None:
    """A Mastodon app is one instance's: its secret goes to that instance alone, whatever a node asks
    (a hostile node naming its own host would otherwise receive the app's secret at the code exchange,
    and make the hub call any address)."""
    advocate = await enrolled(advocacy)
    settings = Settings.from_env({"RELAIS_DATA_DIR": str(tmp_path / "hub"), "RELAIS_NATS_URL": nats_url})
    registered = "https://social.example"
    credentials = AppCredentials(
        "social-client", "social-secret", f"{advocacy.hub_url}/oauth/mastodon/callback"
    )
    apps = OAuthApps({"mastodon": OAuthApp(credentials, instance=registered)})
    connections = Connections(advocacy.db, apps, settings.secret_box(), advocacy.hub.app[LINK])

    def ask(instance: str) -> ConnectAnswer:
        return connections.connect(
            LYON,
            ConnectRequest(
                advocate=advocate,
                network="mastodon",
                instance=instance,
                return_to="http://node.example/advocacy",
            ),
        )

    for elsewhere in (
        "https://attacker.example",
        "https://social.example.attacker.example",
        "https://127.0.0.1",
    ):
        refused = ask(elsewhere)
        assert (refused.error, refused.authorization_url) == ("instance_not_configured", None), elsewhere
    same = ask("https://SOCIAL.example/")
    assert same.error is None and same.authorization_url is not None
    assert same.authorization_url.startswith("https://social.example/oauth/authorize?")


def test_a_mastodon_app_names_its_instance(tmp_path: Path) -> None:
    target = tmp_path / "apps.json"
    entry = {
        "client_id": "c",
        "client_secret": "s",
        "redirect_uri": "https://hub.example/oauth/mastodon/callback",
    }
    target.write_text(json.dumps({"mastodon": entry}))
    with pytest.raises(ValueError, match="instance its app is registered on"):
        load_oauth_apps(target)
    target.write_text(json.dumps({"mastodon": {**entry, "instance": "http://social.example"}}))
    with pytest.raises(ValueError, match="https"):
        load_oauth_apps(target)
    target.write_text(json.dumps({"mastodon": {**entry, "instance": "https://social.example"}}))
    assert load_oauth_apps(target).get("mastodon") is not None
