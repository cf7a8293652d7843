"""Connecting an advocate's personal account at the hub (issue #16 item 2): the one place that holds
the apps' client secrets, exchanges codes for tokens and keeps refresh tokens.

- `advocacy_connect.<agency>` (core NATS, node → hub; NATS pins a node to its own agency's subject):
  `connect` checks the advocate is that agency's and still takes part, then binds a fresh `state` to
  her, the network, its PKCE verifier (encrypted at rest), her instance and the node page to return
  to, for ten minutes and one use, and answers the network's authorisation URL.
- The callback (`services/hub/oauth_callback.py`) calls `finish`: the state is spent, the code
  exchanged, the account's identity read, the access token sealed for the dispatcher with the public
  key it put in the `sealing` bucket (no key yet: nothing is spent, the advisor tries again), the
  refresh token kept encrypted here, and `AdvocateConnected` published. Only sealed values cross the
  bus: no token, no client secret, no verifier.
- `advocacy_refresh` (core NATS, dispatcher → hub; agency users may not publish it): `refresh`
  renews the access token with the stored refresh token (X rotates it: the new one replaces it);
  without one, or when the network refuses, the account `needs_reauth` (for that advocate only).
  Renewals run side by side (`REFRESHES_AT_ONCE`), one at a time per advocate and network.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import msgspec
import nats.js.errors
import sqlite_utils
import structlog
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from services.hub.advocates import advocate_row
from services.hub.oauth_apps import IDENTITY, OAuthApp, OAuthApps
from shared import bus
from shared.advocacy.accounts import (
    CONNECT_SUBJECT,
    REFRESH_SUBJECT,
    SEALING_BUCKET,
    SEALING_KEY,
    ConnectAnswer,
    ConnectRequest,
    RefreshAnswer,
    RefreshRequest,
    advocacy_subject,
    credentials_purpose,
)
from shared.advocacy.events import account_status
from shared.advocacy.oauth import (
    OAUTH_NETWORKS,
    SERVERS,
    OAuthRefused,
    TokenRequest,
    Tokens,
    authorization_url,
    new_state,
    parse_token_answer,
    refresh_request,
    token_request,
)
from shared.advocacy.pkce import new_verifier
from shared.ids import utc_now
from shared.schemas import AdvocateConnected
from shared.sealing import Sealer, SealError
from shared.secrets import SecretBox
from shared.sqlite_writes import write_transaction

__all__ = ["STATE_LIFETIME", "Connections", "Finished", "NotFinished", "serve"]

log = structlog.get_logger("relais.hub.advocates")

STATE_LIFETIME = timedelta(minutes=10)
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=20)
# Renewals in flight at once: a slow token endpoint holds up only the renewals waiting on it (NATS
# hands one subscription's requests in turn, and the dispatcher's requests time out).
REFRESHES_AT_ONCE = 16
UNREACHABLE = "unreachable"  # the network did not answer: nothing is known of the token, it is kept


class NotFinished(Exception):
    """Why a callback connected nothing: `code` for the page (`unknown_state`, `no_sealing_key`,
    `network_refused`, `no_identity`); never a token, a code or a secret."""

    def __init__(self, code: str, return_to: str = "", language: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.return_to = return_to
        self.language = language


@dataclass(frozen=True)
class Finished:
    status: str  # connected, refused
    network: str
    handle: str
    return_to: str
    language: str


@dataclass(frozen=True)
class _State:
    state: str
    advocate: str
    agency: str
    network: str
    instance: str | None
    verifier: str | None
    return_to: str


def _https_root(url: str | None) -> bool:
    if not url:
        return False
    parts = urlsplit(url)
    return (
        parts.scheme == "https"
        and bool(parts.hostname)
        and parts.username is None
        and parts.path in ("", "/")
        and not parts.query
        and not parts.fragment
    )


def _web_address(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and parts.username is None


def _msg_id(state: str, event: str) -> str:
    """The state is spent by then, but a capability is not copied onto the bus even so."""
    return f"{event}-{hashlib.sha256(state.encode()).hexdigest()[:32]}"


class Connections:
    def __init__(
        self,
        db: sqlite_utils.Database,
        apps: OAuthApps,
        box: SecretBox,
        link: bus.BusLink,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._db = db
        self._apps = apps
        self._box = box
        self._link = link
        self._clock = clock
        # One refresh at a time per account: X rotates the refresh token, so a second use of the
        # old one (two expiries read at once) would be refused and take the account down.
        self._refreshing: dict[tuple[str, str], asyncio.Lock] = {}

    # advocacy_connect.<agency>

    def connect(self, agency: str, asked: ConnectRequest) -> ConnectAnswer:
        refusal = self._connect_refusal(agency, asked)
        if refusal is not None:
            log.warning("advocate.connect_refused", agency=agency, advocate=asked.advocate, error=refusal[0])
            return ConnectAnswer(error=refusal[0], message=refusal[1])
        app = self._apps.get(asked.network)
        assert app is not None
        state = new_state()
        verifier = new_verifier() if SERVERS[asked.network].pkce else None
        instance = app.instance or asked.instance  # the registered instance's own spelling, if any
        now = self._clock()
        with write_transaction(self._db):
            self._db.execute("delete from advocate_oauth_states where expires_at < ?", [now.isoformat()])
            self._db.table("advocate_oauth_states").insert(
                {
                    "state": state,
                    "advocate": asked.advocate,
                    "agency": agency,
                    "network": asked.network,
                    "instance": instance,
                    "verifier": self._box.seal(verifier) if verifier else "",
                    "return_to": asked.return_to,
                    "expires_at": (now + STATE_LIFETIME).isoformat(),
                    "used_at": None,
                }
            )
        url = authorization_url(
            asked.network, app.credentials, state, verifier, self._roots(asked.network, app, instance)
        )
        log.info("advocate.connect_started", agency=agency, advocate=asked.advocate, network=asked.network)
        return ConnectAnswer(authorization_url=url)

    def _connect_refusal(self, agency: str, asked: ConnectRequest) -> tuple[str, str] | None:
        known = advocate_row(self._db, asked.advocate)
        if known is None:
            return "unknown_advocate", "this advocate has not enrolled (or the hub has not heard it yet)"
        if known.agency != agency:
            return "other_agency", "this advocate is not one of this agency's"
        if known.opted_out:
            return "opted_out", "this advocate opted out"
        if asked.network not in OAUTH_NETWORKS:
            return "unknown_network", f"network must be one of {', '.join(OAUTH_NETWORKS)}"
        app = self._apps.get(asked.network)
        if app is None:
            return "not_configured", f"the hub has no app registered with {asked.network}"
        if asked.network == "mastodon" and not _https_root(asked.instance):
            return "invalid_instance", "a Mastodon account needs its instance's https:// address"
        if asked.network == "mastodon" and not app.takes_instance(asked.instance or ""):
            return "instance_not_configured", f"the hub's Mastodon app is registered on {app.instance} only"
        if asked.network != "mastodon" and asked.instance is not None:
            return "invalid_instance", f"{asked.network} has no instance"
        if not _web_address(asked.return_to):
            return "invalid_return_to", "return_to must be the node's http(s) address"
        return None

    @staticmethod
    def _roots(network: str, app: OAuthApp, instance: str | None) -> dict[str, str]:
        """Where the network is reached: the app's root (the sandbox), else Mastodon's instance."""
        root = app.root or (instance or "")
        return {network: root} if root else {}

    # The callback

    def _live_state(self, network: str, state: str) -> _State | None:
        row = self._db.execute(
            "select state, advocate, agency, network, instance, verifier, return_to"
            " from advocate_oauth_states"
            " where state = ? and network = ? and used_at is null and expires_at > ?",
            [state, network, self._clock().isoformat()],
        ).fetchone()
        if row is None:
            return None
        verifier = self._box.open(row[5]) if row[5] else None
        return _State(row[0], row[1], row[2], row[3], row[4], verifier, row[6])

    def _spend(self, state: str) -> bool:
        with write_transaction(self._db):
            cursor = self._db.execute(
                "update advocate_oauth_states set used_at = ? where state = ? and used_at is null",
                [utc_now(), state],
            )
        return cursor.rowcount == 1

    async def finish(self, network: str, query: dict[str, str]) -> Finished:
        """The network's redirect back (`code` and `state`, or `error`); raises `NotFinished`."""
        bound = self._live_state(network, query.get("state", "")) if network in OAUTH_NETWORKS else None
        if bound is None:
            raise NotFinished("unknown_state")
        known = advocate_row(self._db, bound.advocate)
        if known is None or known.opted_out or known.agency != bound.agency:
            self._spend(bound.state)
            raise NotFinished("unknown_state")
        language = known.consent_language
        if not self._link.connected:  # what follows is said on the bus: nothing spent, she reloads
            raise NotFinished("no_sealing_key", bound.return_to, language)
        app = self._apps.get(network)
        if query.get("error") or not query.get("code") or app is None:
            if not self._spend(bound.state):
                raise NotFinished("unknown_state")
            await self._status(bound, "refused", query.get("error") or "no code", bound.state)
            return Finished("refused", network, "", bound.return_to, language)
        sealer = await self._sealer()
        if sealer is None:  # nothing spent: the advisor reloads the page once the dispatcher is up
            raise NotFinished("no_sealing_key", bound.return_to, language)
        if not self._spend(bound.state):  # two loads of the page at once: one connects
            raise NotFinished("unknown_state")
        roots = self._roots(network, app, bound.instance)
        try:
            tokens = await self._post(
                token_request(network, app.credentials, query["code"], bound.verifier, roots)
            )
            account_id, handle, fields = await self._identity(app, bound, tokens.access_token)
        except OAuthRefused as refused:
            log.warning(
                "advocate.connect_failed", agency=bound.agency, advocate=bound.advocate, error=refused.error
            )
            raise NotFinished("network_refused", bound.return_to, language) from None
        sealed = sealer.seal(
            json.dumps({"token": tokens.access_token, **fields}),
            purpose=credentials_purpose(bound.advocate, network),
        )
        with write_transaction(self._db):
            if tokens.refresh_token:
                self._keep_refresh(
                    bound.advocate, network, bound.agency, bound.instance, tokens.refresh_token, fields
                )
            else:
                self._db.execute(
                    "delete from advocate_refresh_tokens where advocate = ? and network = ?",
                    [bound.advocate, network],
                )
        connected = AdvocateConnected(
            post_id="",
            agency=bound.agency,
            occurred_at=utc_now(),
            advocate=bound.advocate,
            network=network,
            account_id=account_id,
            handle=handle,
            instance=bound.instance,
            sealed_credentials=sealed,
            expires_at=_iso(tokens.expires_at),
        )
        subject = advocacy_subject(bound.agency, bound.advocate, "connected")
        await bus.publish(self._js(), subject, connected, _msg_id(bound.state, "connected"))
        log.info("advocate.connected", agency=bound.agency, advocate=bound.advocate, network=network)
        return Finished("connected", network, handle, bound.return_to, language)

    def _keep_refresh(
        self,
        advocate: str,
        network: str,
        agency: str,
        instance: str | None,
        token: str,
        fields: dict[str, str],
    ) -> None:
        self._db.table("advocate_refresh_tokens").upsert(
            {
                "advocate": advocate,
                "network": network,
                "agency": agency,
                "instance": instance,
                "refresh_token": self._box.seal(token),
                "fields": json.dumps(fields),
                "updated_at": utc_now(),
            },
            pk=("advocate", "network"),
        )

    def _js(self) -> Any:
        if self._link.nc is None:
            raise NotFinished("no_sealing_key")
        return self._link.nc.jetstream()

    async def _sealer(self) -> Sealer | None:
        if self._link.nc is None or not self._link.connected:
            return None
        try:
            kv = await self._link.nc.jetstream().key_value(SEALING_BUCKET)
            entry = await kv.get(SEALING_KEY)
            return Sealer((entry.value or b"").decode())
        except (nats.js.errors.Error, nats.errors.Error, TimeoutError, SealError, UnicodeDecodeError):
            return None

    async def _post(self, request: TokenRequest) -> Tokens:
        try:
            async with (
                aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as session,
                session.post(request.url, data=request.form, headers=request.headers) as answer,
            ):
                try:
                    body = await answer.json(content_type=None)
                except ValueError:
                    body = None
                status = answer.status
        except (aiohttp.ClientError, TimeoutError):
            raise OAuthRefused(UNREACHABLE, "the network's token endpoint did not answer") from None
        return parse_token_answer(status, body)

    async def _identity(self, app: OAuthApp, bound: _State, token: str) -> tuple[str, str, dict[str, str]]:
        """(the network's account id, its handle, the adapter's fields beside the token)."""
        network = bound.network
        real_root, path = IDENTITY[network]
        root = (app.root or (bound.instance if network == "mastodon" else real_root) or "").rstrip("/")
        headers = {"Authorization": f"Bearer {token}"}
        try:
            async with (
                aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as session,
                session.get(f"{root}{path}", headers=headers) as answer,
            ):
                body = await answer.json(content_type=None) if answer.status == 200 else None
        except (aiohttp.ClientError, ValueError, TimeoutError):
            body = None
        if network == "x" and isinstance(body, dict) and isinstance(data := body.get("data"), dict):
            if isinstance(data.get("id"), str) and isinstance(data.get("username"), str):
                return data["id"], f"@{data['username']}", {"user_id": data["id"]}
        if network == "linkedin" and isinstance(body, dict) and isinstance(body.get("sub"), str):
            urn = f"urn:li:person:{body['sub']}"
            return body["sub"], str(body.get("name") or urn), {"author": urn}
        if network == "mastodon" and isinstance(body, dict) and isinstance(body.get("id"), str):
            host = urlsplit(bound.instance or "").hostname or ""
            # The dispatcher posts where the token works: where the hub reached her account (an app's
            # `root` stands for her instance, as in the sandbox), not always the address she typed.
            reached = app.root.rstrip("/") or bound.instance or ""
            return body["id"], f"{body.get('acct') or body['id']}@{host}", {"instance": reached}
        raise OAuthRefused("no_identity", f"{network} did not say whose account this is")

    async def _status(self, bound: _State | tuple[str, str, str], status: str, reason: str, key: str) -> None:
        advocate, agency, network = (
            (bound.advocate, bound.agency, bound.network) if isinstance(bound, _State) else bound
        )
        message = account_status(agency, advocate, network, status, reason)
        await bus.publish(
            self._js(), advocacy_subject(agency, advocate, "status"), message, _msg_id(key, status)
        )
        log.info("advocate.account_status", agency=agency, advocate=advocate, network=network, status=status)

    # advocacy_refresh

    async def refresh(self, asked: RefreshRequest) -> RefreshAnswer:
        lock = self._refreshing.setdefault((asked.advocate, asked.network), asyncio.Lock())
        async with lock:
            return await self._refresh(asked)

    async def _refresh(self, asked: RefreshRequest) -> RefreshAnswer:
        row = self._db.execute(
            "select agency, instance, refresh_token, fields from advocate_refresh_tokens"
            " where advocate = ? and network = ?",
            [asked.advocate, asked.network],
        ).fetchone()
        app = self._apps.get(asked.network)
        known = advocate_row(self._db, asked.advocate)
        if row is None or app is None or known is None or known.opted_out:
            return await self._cannot_refresh(asked, known.agency if known else None, "no refresh token")
        agency, instance, sealed, fields = row
        sealer = await self._sealer()
        if sealer is None:
            return RefreshAnswer(error="no sealing key yet")
        try:
            request = refresh_request(
                asked.network,
                app.credentials,
                self._box.open(sealed),
                self._roots(asked.network, app, instance),
            )
            tokens = await self._post(request)
        except (OAuthRefused, ValueError) as refused:
            if isinstance(refused, OAuthRefused) and refused.error == UNREACHABLE:
                return RefreshAnswer(error=UNREACHABLE)  # the token still holds: the dispatcher asks again
            with write_transaction(self._db):
                self._db.execute(
                    "delete from advocate_refresh_tokens where advocate = ? and network = ?",
                    [asked.advocate, asked.network],
                )
            reason = refused.error if isinstance(refused, OAuthRefused) else "no refresh"
            return await self._cannot_refresh(asked, agency, reason)
        with write_transaction(self._db):
            if tokens.refresh_token:  # X rotates it: the old one no longer works
                self._keep_refresh(
                    asked.advocate, asked.network, agency, instance, tokens.refresh_token, json.loads(fields)
                )
        value = json.dumps({"token": tokens.access_token, **json.loads(fields)})
        log.info("advocate.refreshed", agency=agency, advocate=asked.advocate, network=asked.network)
        return RefreshAnswer(
            sealed_credentials=sealer.seal(value, purpose=credentials_purpose(asked.advocate, asked.network)),
            expires_at=_iso(tokens.expires_at),
        )

    async def _cannot_refresh(self, asked: RefreshRequest, agency: str | None, reason: str) -> RefreshAnswer:
        if agency is not None:
            key = f"{asked.advocate}:{asked.network}:{utc_now()}"
            await self._status((asked.advocate, agency, asked.network), "needs_reauth", reason, key)
        log.warning("advocate.refresh_refused", advocate=asked.advocate, network=asked.network, reason=reason)
        return RefreshAnswer(error=reason)


def _iso(moment: float | None) -> str | None:
    return datetime.fromtimestamp(moment, UTC).isoformat() if moment is not None else None


async def serve(nc: NATS, connections: Connections, stop: asyncio.Event) -> None:
    """Answer `advocacy_connect.<agency>` and `advocacy_refresh` until `stop`."""

    async def on_connect(msg: Msg) -> None:
        agency = msg.subject.split(".", 1)[1]
        try:
            asked = msgspec.json.decode(msg.data, type=ConnectRequest)
            answer = connections.connect(agency, asked)
        except msgspec.DecodeError as exc:
            answer = ConnectAnswer(error="invalid_request", message=str(exc)[:200])
        except Exception:  # the node hears it now rather than wait for its request's time-out
            log.exception("advocate.connect_failed", agency=agency)
            answer = ConnectAnswer(error="unavailable", message="the hub could not start the connection")
        await msg.respond(msgspec.json.encode(answer))

    slots = asyncio.Semaphore(REFRESHES_AT_ONCE)
    renewing: set[asyncio.Task[None]] = set()

    async def answer_refresh(msg: Msg) -> None:
        async with slots:
            try:
                answer = await connections.refresh(msgspec.json.decode(msg.data, type=RefreshRequest))
            except msgspec.DecodeError as exc:
                answer = RefreshAnswer(error=f"invalid request: {str(exc)[:200]}")
            except Exception:
                log.exception("advocate.refresh_failed")
                answer = RefreshAnswer(error="unavailable")
        await msg.respond(msgspec.json.encode(answer))

    async def on_refresh(msg: Msg) -> None:
        task = asyncio.create_task(answer_refresh(msg))
        renewing.add(task)
        task.add_done_callback(renewing.discard)

    subs = [
        await nc.subscribe(CONNECT_SUBJECT, cb=on_connect),
        await nc.subscribe(REFRESH_SUBJECT, cb=on_refresh),
    ]
    try:
        await stop.wait()
    finally:
        for sub in subs:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        # Never cut a renewal short: X may have rotated the refresh token, and only the answer
        # stored here keeps the account (each call is bounded by HTTP_TIMEOUT).
        await asyncio.gather(*renewing, return_exceptions=True)
