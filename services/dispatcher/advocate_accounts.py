"""Advocates' personal accounts at the dispatcher (#16 items 2, 3 and 5): the sealing key, the
credentials the hub and the nodes seal for it, and the refresh of an expired token.

- **The sealing key**: one X25519 key pair per deployment, in `RELAIS_SEALING_KEY_FILE` (default
  `<data dir>/sealing.key`, 0600). Every shard of a deployment reads the same file (they share the data
  dir; shards on other hosts get a copy of the file): a value is sealed once, by a node or the hub, for
  whichever shard owns its account, and a key per shard would need the sealer to know the layout. The
  first shard to start creates the file (an exclusive link: two shards starting at once cannot each
  keep a key of their own), and every shard puts the public key in the `sealing` bucket at start.
- **Credentials**: the durable consumer `dispatcher-advocacy` (one per shard) reads the ADVOCACY
  stream. `connected` (the hub's OAuth callback, for a network of `OAUTH_NETWORKS`) and `app_password`
  (a node, for Bluesky only: anything else on it is refused) are opened with the purpose
  `credentials_purpose(advocate, network)`, so a value sealed for one advocate or network never opens
  as another's; a Bluesky app password is tried with `createSession` first. The fields are stored
  encrypted at rest (`shared.secrets`) in the ledger (`advocate_credentials`, m015) under the registry's
  reference `advocate:<advocate>:<network>`, and `AdvocateAccountStatus` says `connected` (or
  `needs_reauth`, with the network's words, when they do not open or are refused). `disconnected`
  deletes one account's credentials, `opted_out` and `forgotten` all of the advocate's. Every shard keeps
  every account (a change of layout then finds each where it moves it); only the account's own
  shard (`Shard.owns` of the personal page) tries a Bluesky login and publishes its status.
- **Refresh**: a personal page whose token a network refuses is refreshed where the network gives
  Relais a refresh token (X), by asking the hub (`RefreshRequest` on `advocacy_refresh`; the hub alone
  holds the refresh token and the app's secret); the delivery is then tried once more.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path

import msgspec
import nats.errors
import nats.js.errors
import sqlite_utils
import structlog
from nacl.public import PrivateKey
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from services.dispatcher.adapters.base import DeliveryError, NetworkAdapter, PageAccount
from services.dispatcher.shards import Shard
from shared import bus
from shared.advocacy.accounts import (
    REFRESH_SUBJECT,
    SEALING_BUCKET,
    SEALING_KEY,
    RefreshAnswer,
    RefreshRequest,
    advocacy_subject,
    credentials_purpose,
    credentials_ref,
    is_advocate_id,
    personal_page,
)
from shared.advocacy.events import RefusedEvent, account_event
from shared.advocacy.events import account_status as status_of
from shared.advocacy.oauth import SERVERS
from shared.ids import utc_now
from shared.schemas import (
    AdvocateConnected,
    encode,
)
from shared.sealing import SealError, Unsealer, load_or_create_unsealer
from shared.secrets import SecretBox, SecretError

__all__ = [
    "ADVOCACY",
    "BLUESKY",
    "AdvocateAccounts",
    "AdvocateCredentials",
    "account_status",
    "advocate_of_page",
    "publish_sealing_key",
    "sealing_unsealer",
]

log = structlog.get_logger("relais.dispatcher.advocates")

ADVOCACY = bus.ConsumerSpec(stream="ADVOCACY", durable="dispatcher-advocacy", filter_subject="advocacy.*.*.*")
BLUESKY = "bluesky"  # app passwords, tried with `createSession` before they are taken
EXPIRY_MARGIN = 60.0  # seconds before a token's expiry when it is refreshed rather than used
REFRESH_TIMEOUT = 10.0  # seconds the hub has to answer a refresh (it calls the network's token endpoint)


def advocate_of_page(page: str) -> str | None:
    """The advocate whose personal page this is (`personal_page`'s inverse), or None for an agency's."""
    advocate, _, _network = page.rpartition("-")
    return advocate if is_advocate_id(advocate) else None


def sealing_unsealer(path: Path) -> Unsealer:
    """The deployment's key pair: created at most once, however many shards start at the same time."""
    if not path.exists():
        # The file's format is `load_or_create_unsealer`'s: the private key in base64url, unpadded.
        key = base64.urlsafe_b64encode(bytes(PrivateKey.generate())).rstrip(b"=")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)  # 0600
        partial = Path(name)
        with os.fdopen(fd, "wb") as out:
            out.write(key + b"\n")
        try:
            os.link(partial, path)  # fails if another shard created it first: its key is the one
        except FileExistsError:
            pass
        finally:
            partial.unlink()
    return load_or_create_unsealer(path)


async def publish_sealing_key(js: JetStreamContext, unsealer: Unsealer, *, sharded: bool = False) -> bool:
    """Put the public key where nodes and the hub read it (unchanged: not written again). One of
    several shards never replaces another key: a shard on another host with a key file of its own
    would otherwise make every other shard's accounts unopenable (it logs `sealing.key_differs`
    and answers False: its file must be a copy of the others'). A single dispatcher's file is the
    truth (a lost file was replaced: what was sealed for the old key no longer opens, and its
    advocates are told to connect again)."""
    kv = await bus.ensure_key_value(js, SEALING_BUCKET)
    current = None
    with contextlib.suppress(nats.js.errors.KeyNotFoundError):
        current = (await kv.get(SEALING_KEY)).value
    ours = unsealer.public_key.encode()
    if current == ours:
        return True
    if current and sharded:
        log.error(
            "sealing.key_differs", bucket=SEALING_BUCKET, hint="copy the other shards' sealing key file"
        )
        return False
    await kv.put(SEALING_KEY, ours)
    log.info("sealing.key_published", bucket=SEALING_BUCKET)
    return True


def account_status(
    agency: str, advocate: str, network: str, status: str, msg_id: str, error: str | None = None
) -> tuple[str, str, bytes]:
    """`AdvocateAccountStatus` as the outbox sends it: (subject, Nats-Msg-Id, body)."""
    message = status_of(agency, advocate, network, status, error)
    return advocacy_subject(agency, advocate, "status"), msg_id, encode(message)


class AdvocateCredentials:
    """The opened credentials of advocates' accounts, encrypted at rest."""

    def __init__(self, db: sqlite_utils.Database, box: SecretBox) -> None:
        self._db = db
        self._box = box
        self._opened: dict[str, dict[str, str]] = {}

    def get(self, ref: str) -> dict[str, str] | None:
        if ref in self._opened:
            return self._opened[ref]
        row = self._db.execute("select fields from advocate_credentials where ref = ?", [ref]).fetchone()
        if row is None:
            return None
        try:
            opened = {name: self._box.open(value) for name, value in json.loads(row[0]).items()}
        except SecretError as exc:
            log.error("advocate.credentials_unreadable", credentials_ref=ref, error=str(exc))
            return None
        self._opened[ref] = opened
        return opened

    def put(
        self, agency: str, advocate: str, network: str, fields: Mapping[str, str], expires_at: str | None
    ) -> None:
        ref = credentials_ref(advocate, network)
        sealed = json.dumps({name: self._box.seal(value) for name, value in fields.items()})
        row = {
            "ref": ref,
            "advocate": advocate,
            "network": network,
            "agency": agency,
            "fields": sealed,
            "expires_at": expires_at,
            "updated_at": utc_now(),
        }
        with self._db.conn:
            self._db.table("advocate_credentials").upsert(row, pk="ref")
        self._opened[ref] = dict(fields)

    def expires_at(self, ref: str) -> float | None:
        """When the account's access token expires (Unix time), where the network said."""
        row = self._db.execute("select expires_at from advocate_credentials where ref = ?", [ref]).fetchone()
        if row is None or not row[0]:
            return None
        try:
            return datetime.fromisoformat(str(row[0]).replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None

    def agencies_of(self, advocate: str) -> set[str]:
        """The agencies this advocate's stored accounts were connected from (one, or none)."""
        rows = self._db.execute(
            "select distinct agency from advocate_credentials where advocate = ?", [advocate]
        )
        return {row[0] for row in rows}

    def delete(self, agency: str, advocate: str, network: str | None = None) -> list[str]:
        """Forget one account's credentials, or all of the advocate's in her agency; answers the pages
        concerned."""
        where, args = "agency = ? and advocate = ?", [agency, advocate]
        if network is not None:
            where, args = "agency = ? and advocate = ? and network = ?", [agency, advocate, network]
        networks = [
            row[0]
            for row in self._db.execute(f"select network from advocate_credentials where {where}", args)
        ]
        with self._db.conn:
            self._db.execute(f"delete from advocate_credentials where {where}", args)
        for name in networks:
            self._opened.pop(credentials_ref(advocate, name), None)
        return [personal_page(advocate, name) for name in networks]


class _Refused(Exception):
    """Why an account's credentials are not taken (words for the advocate, never a value)."""


class AdvocateAccounts:
    """The ADVOCACY consumer's handler and the refresh of expired tokens, for one shard."""

    def __init__(
        self,
        credentials: AdvocateCredentials,
        unsealer: Unsealer,
        shard: Shard,
        *,
        api_urls: Mapping[str, str],
        reconnected: Callable[[str], None],
        refresh_timeout: float = REFRESH_TIMEOUT,
    ) -> None:
        self.credentials = credentials
        self._unsealer = unsealer
        self._shard = shard
        self._adapter: Callable[[str], NetworkAdapter] | None = None
        self._api_urls = api_urls
        self._reconnected = reconnected  # a page that waited for its advocate may post again
        self._refresh_timeout = refresh_timeout
        self._refreshing: dict[str, asyncio.Lock] = {}
        self.js: JetStreamContext | None = None
        self.nc: NATS | None = None

    def wire(self, adapter: Callable[[str], NetworkAdapter], js: JetStreamContext, nc: NATS) -> None:
        """What the running dispatcher lends: its adapters (their sessions), and the bus."""
        self._adapter, self.js, self.nc = adapter, js, nc

    def base_url(self, network: str, fields: Mapping[str, str]) -> str:
        """Where the account lives: a Mastodon advocate's own instance (said by the hub's callback),
        else the network's configured API (a Bluesky PDS named by a node is not called: a hostile
        node would make the dispatcher call an address of its choosing)."""
        instance = fields.get("instance") if network == "mastodon" else None
        return instance or self._api_urls[network]

    # --- the ADVOCACY stream ------------------------------------------------------------------

    async def on_event(self, message: bus.Incoming) -> None:
        try:
            found = account_event(message.subject, message.data)
        except RefusedEvent as refused:  # a forged body, or a node's token for another network
            log.error("advocate.event_refused", subject=message.subject, reason=str(refused))
            return
        if found is None:
            return
        agency, advocate = found.agency, found.advocate
        where = {
            "post_id": "",
            "agency": agency,
            "advocate": advocate,
            "advocacy_event": found.event,
            "network": found.network or "all",
        }
        if isinstance(found.message, AdvocateConnected):
            await self._on_connected(found.message, message.sequence, where)
        else:
            # Only what was connected from this agency: another agency's node cannot disconnect her.
            pages = self.credentials.delete(agency, advocate, found.network)
            log.info("advocate.credentials_deleted", **where, accounts=len(pages))

    async def _on_connected(self, connected: AdvocateConnected, sequence: int, where: dict[str, str]) -> None:
        agency, advocate, network = connected.agency, connected.advocate, connected.network
        page = personal_page(advocate, network)
        if self.credentials.agencies_of(advocate) - {agency}:
            # An advocate belongs to the agency she enrolled at: another agency's node (which may seal
            # anything with the public key) must not put its own account in place of hers.
            log.error("advocate.event_refused", **where, reason="the advocate is another agency's")
            return
        # Every shard keeps every account (a new layout then finds them where it moved them); the
        # account's own shard alone tries a Bluesky login and says what became of it.
        owner = self._shard.owns(network, page)
        msg_id = f"{advocacy_subject(agency, advocate, 'status')}.{network}.{sequence}"
        try:
            fields = self._open(connected, advocate, network)
            if network == BLUESKY and owner:
                await self._check_login(page, connected.handle, fields)
        except _Refused as refused:
            log.warning("advocate.credentials_refused", **where, reason=str(refused))
            if owner:
                await self._publish(
                    account_status(agency, advocate, network, "needs_reauth", msg_id, str(refused))
                )
            return
        self.credentials.put(agency, advocate, network, fields, connected.expires_at)
        if not owner:
            return
        self._reconnected(page)
        log.info("advocate.connected", **where, page=page)
        await self._publish(account_status(agency, advocate, network, "connected", msg_id))

    def _open(self, connected: AdvocateConnected, advocate: str, network: str) -> dict[str, str]:
        try:
            opened = self._unsealer.open(
                connected.sealed_credentials, purpose=credentials_purpose(advocate, network)
            )
        except SealError as exc:  # its message never holds the value
            raise _Refused(f"the credentials did not open ({exc}): connect the account again") from None
        try:
            fields = json.loads(opened)
        except ValueError:
            fields = None
        if not isinstance(fields, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in fields.items()
        ):
            raise _Refused("the credentials are not a set of named values: connect the account again")
        if network == "mastodon" and connected.instance and "instance" not in fields:
            fields["instance"] = connected.instance
        return fields

    async def _check_login(self, page: str, handle: str, fields: Mapping[str, str]) -> None:
        account = PageAccount(page, BLUESKY, handle, fields, self.base_url(BLUESKY, fields))
        if self._adapter is None:
            raise _Refused("the dispatcher is not running: connect the account again")
        checker = self._adapter(BLUESKY)
        try:
            await checker.check_login(account)  # type: ignore[attr-defined]
        except DeliveryError as exc:
            raise _Refused(exc.message) from None

    async def _publish(self, item: tuple[str, str, bytes]) -> None:
        subject, msg_id, data = item
        if self.js is None:
            return
        await self.js.publish(subject, data, headers={"Nats-Msg-Id": msg_id}, timeout=5)

    # --- refreshing an expired token ---------------------------------------------------------------

    @staticmethod
    def refreshes(network: str) -> bool:
        server = SERVERS.get(network)
        return server is not None and server.refreshes

    async def refresh_if_expired(self, agency: str, advocate: str, network: str) -> None:
        """Before a call: a token known to expire within `EXPIRY_MARGIN` is refreshed first (X's last
        two hours: most shares would otherwise be refused once). Refused or unanswered, the call goes
        on with the token it has (the network's answer then decides)."""
        ref = credentials_ref(advocate, network)
        expires = self.credentials.expires_at(ref)
        if expires is not None and expires - time.time() < EXPIRY_MARGIN:
            await self.refresh(agency, advocate, network, self.credentials.get(ref) or {})

    async def refresh(self, agency: str, advocate: str, network: str, refused: Mapping[str, str]) -> bool:
        """Ask the hub for new credentials in place of `refused` (those the network just refused);
        True once they are stored. One request at a time per account: X rotates its refresh token at
        each use, so the calls of a share's other deliveries refused at the same moment take the
        first one's new credentials instead of asking again."""
        if self.nc is None or not self.refreshes(network):
            return False
        async with self._refreshing.setdefault(credentials_ref(advocate, network), asyncio.Lock()):
            if (self.credentials.get(credentials_ref(advocate, network)) or {}) != refused:
                return True  # refreshed meanwhile
            return await self._refresh(agency, advocate, network)

    async def _refresh(self, agency: str, advocate: str, network: str) -> bool:
        assert self.nc is not None
        where = {"post_id": "", "agency": agency, "advocate": advocate, "network": network}
        request = msgspec.json.encode(RefreshRequest(advocate=advocate, network=network))
        try:
            reply = await self.nc.request(REFRESH_SUBJECT, request, timeout=self._refresh_timeout)
            answer = msgspec.json.decode(reply.data, type=RefreshAnswer)
        except (nats.errors.Error, TimeoutError, msgspec.DecodeError) as exc:
            log.warning("advocate.refresh_failed", **where, error=type(exc).__name__)
            return False
        if answer.sealed_credentials is None:
            log.warning("advocate.refresh_refused", **where, error=answer.error)
            return False
        sealed = AdvocateConnected(
            post_id="",
            agency=agency,
            occurred_at=utc_now(),
            advocate=advocate,
            network=network,
            account_id="",
            handle="",
            sealed_credentials=answer.sealed_credentials,
            expires_at=answer.expires_at,
        )
        try:
            fields = self._open(sealed, advocate, network)
        except _Refused as refused:
            log.warning("advocate.refresh_refused", **where, error=str(refused))
            return False
        kept = self.credentials.get(credentials_ref(advocate, network)) or {}
        self.credentials.put(agency, advocate, network, {**kept, **fields}, answer.expires_at)
        log.info("advocate.refreshed", **where)
        return True
