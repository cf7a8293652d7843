"""Advocates at the agency node (issue #16 items 2 and 5): consent, opt-out, and the state of each
advocate's personal accounts, in the tables of `m016_advocates` (services/intake/store.py).

- **Consent** (`enrol`): an advisor of this agency opts in herself (the caller is the advocate: no
  route takes an advocate id). The node records a new pseudonym (`new_advocate_id`), her user id,
  the date, `CONSENT_VERSION`, the language and the exact wording shown (`consent_text`, one msgid
  rendered in that language). Asking again while the consent stands changes nothing (she keeps her
  pseudonym). Opting out (`opt_out`) records the withdrawal's date and shows every account
  disconnected; opting in again later is a new consent with a NEW pseudonym.
- **Outbox**: each change the hub must hear of (`AdvocateEnrolled`, `AdvocateOptedOut`,
  `AdvocateDisconnected`, a Bluesky `AdvocateConnected` with its app password sealed) is written in
  the same transaction as the change (`advocacy_outbox`, m018), before the answer; the relay
  (services/intake/advocacy_relay.py) sends it when the link is up, in order, once.
- **News** (`apply_advocacy_event`): the hub's `connected` and the hub's or dispatcher's `status`
  set a network's state for an advocate whose consent stands (a message older than the state kept
  changes nothing); `forgotten` erases everything the node holds of that pseudonym, the person's
  user id and consent text with it.

The clear Bluesky password exists only in the request handling it: it is sealed at once with the
dispatcher's public key (`shared.sealing`), and only the sealed value is written or sent.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

import sqlite_utils
import structlog

from shared.advocacy.accounts import (
    ACCOUNT_STATUSES,
    CONSENT_VERSION,
    advocacy_subject,
    credentials_purpose,
    new_advocate_id,
)
from shared.advocacy.stories import ADVOCACY_NETWORKS
from shared.i18n import N_, words
from shared.ids import utc_now
from shared.schemas import (
    AdvocateAccountStatus,
    AdvocateConnected,
    AdvocateDisconnected,
    AdvocateEnrolled,
    AdvocateForgotten,
    AdvocateOptedOut,
    Message,
    decode_any,
    encode,
)
from shared.sealing import Sealer

__all__ = [
    "CONSENT_TEXT",
    "Consent",
    "apply_advocacy_event",
    "connect_bluesky",
    "consent_text",
    "disconnect",
    "enrol",
    "forget",
    "me",
    "opt_out",
    "sealing_key",
    "standing_consent",
    "store_sealing_key",
]

log = structlog.get_logger("relais.intake.advocates")

# The wording an advisor agrees to, in her language (shared/i18n catalogs). A new wording needs a new
# CONSENT_VERSION (shared/advocacy/accounts.py); consents given to an older one keep what was shown.
CONSENT_TEXT = N_(
    "I agree to share the service's stories (#AvecPôleEmploi) from my own social media accounts, each in"
    " my own words. Outside this agency I am known by a pseudonym only. The passwords and access of the"
    " accounts I connect are kept sealed by Relais for publishing my shares, never at this agency. I may"
    " disconnect an account or withdraw this consent at any time: nothing more is then shared in my name."
)

# How a network's account shows at the node: none yet (or disconnected), asked for and not confirmed
# yet (`connecting`), then what the hub and the dispatcher said (ACCOUNT_STATUSES).
NOT_CONNECTED, CONNECTING, DISCONNECTED = "not_connected", "connecting", "disconnected"
SHOWN_STATUSES = (NOT_CONNECTED, CONNECTING, *ACCOUNT_STATUSES)


@dataclass(frozen=True)
class Consent:
    advocate: str
    consented_at: str
    version: str
    language: str
    text: str


def consent_text(language: str) -> str:
    """The consent's wording exactly as the page shows it in `language`."""
    return words(language).gettext(CONSENT_TEXT)


def standing_consent(db: sqlite_utils.Database, user: str) -> Consent | None:
    row = db.execute(
        "select advocate, consented_at, consent_version, consent_language, consent_text from advocates"
        " where user = ? and opted_out_at is null order by consented_at desc limit 1",
        [user],
    ).fetchone()
    return Consent(*row) if row else None


def _write(db: sqlite_utils.Database, event: Message, advocate: str, kind: str) -> None:
    """Queue `event` for the hub (inside the caller's transaction)."""
    db.table("advocacy_outbox").insert(
        {
            "advocate": advocate,
            "subject": advocacy_subject(event.agency, advocate, kind),
            "msg_id": f"advocacy:{event.agency}:{advocate}:{kind}:{secrets.token_hex(8)}",
            "event": encode(event).decode(),
            "created_at": event.occurred_at,
        }
    )


def enrol(db: sqlite_utils.Database, agency: str, user: str, language: str) -> tuple[Consent, bool]:
    """The user's standing consent, made now (True) unless she had one (False: nothing written)."""
    with db.atomic():
        standing = standing_consent(db, user)
        if standing is not None:
            return standing, False
        consent = Consent(new_advocate_id(), utc_now(), CONSENT_VERSION, language, consent_text(language))
        db.table("advocates").insert(
            {
                "advocate": consent.advocate,
                "user": user,
                "consented_at": consent.consented_at,
                "consent_version": consent.version,
                "consent_language": consent.language,
                "consent_text": consent.text,
            }
        )
        event = AdvocateEnrolled(
            post_id="",
            agency=agency,
            occurred_at=consent.consented_at,
            advocate=consent.advocate,
            user=user,
            consented_at=consent.consented_at,
            consent_version=consent.version,
            consent_language=consent.language,
            consent_text=consent.text,
        )
        _write(db, event, consent.advocate, "enrolled")
    log.info(
        "advocate.enrolled", post_id="", agency=agency, advocate=consent.advocate, version=consent.version
    )
    return consent, True


def opt_out(db: sqlite_utils.Database, agency: str, user: str) -> str | None:
    """Withdraw the user's standing consent: the pseudonym withdrawn, or None (none stood)."""
    now = utc_now()
    with db.atomic():
        standing = standing_consent(db, user)
        if standing is None:
            return None
        db.execute("update advocates set opted_out_at = ? where advocate = ?", [now, standing.advocate])
        db.execute(
            "update advocate_accounts set status = ?, updated_at = ? where advocate = ?",
            [DISCONNECTED, now, standing.advocate],
        )
        event = AdvocateOptedOut(post_id="", agency=agency, occurred_at=now, advocate=standing.advocate)
        _write(db, event, standing.advocate, "opted_out")
    log.info("advocate.opted_out", post_id="", agency=agency, advocate=standing.advocate)
    return standing.advocate


def _set_account(
    db: sqlite_utils.Database, advocate: str, network: str, status: str, handle: str | None, at: str
) -> None:
    db.execute(
        "insert into advocate_accounts (advocate, network, status, handle, updated_at) values (?, ?, ?, ?, ?)"
        " on conflict (advocate, network) do update set status = excluded.status,"
        " handle = coalesce(excluded.handle, advocate_accounts.handle), updated_at = excluded.updated_at",
        [advocate, network, status, handle, at],
    )


def connect_bluesky(
    db: sqlite_utils.Database,
    agency: str,
    advocate: str,
    sealer: Sealer,
    identifier: str,
    app_password: str,
    pds: str | None,
) -> None:
    """Seal the app password for the dispatcher (purpose: this advocate's Bluesky account) and queue
    the `app_password` event; the account is `connecting` until the dispatcher says how it went."""
    sealed = sealer.seal(
        json.dumps({"identifier": identifier, "password": app_password}),
        purpose=credentials_purpose(advocate, "bluesky"),
    )
    now = utc_now()
    event = AdvocateConnected(
        post_id="",
        agency=agency,
        occurred_at=now,
        advocate=advocate,
        network="bluesky",
        account_id=identifier,
        handle=identifier,
        instance=pds,
        sealed_credentials=sealed,
    )
    with db.atomic():
        _set_account(db, advocate, "bluesky", CONNECTING, identifier, now)
        _write(db, event, advocate, "app_password")
    log.info("advocate.app_password_sealed", post_id="", agency=agency, advocate=advocate, network="bluesky")


def disconnect(db: sqlite_utils.Database, agency: str, advocate: str, network: str) -> bool:
    """Disconnect one account (True), or nothing to do (False: never connected, or already not)."""
    now = utc_now()
    with db.atomic():
        row = db.execute(
            "select status from advocate_accounts where advocate = ? and network = ?", [advocate, network]
        ).fetchone()
        if row is None or row[0] == DISCONNECTED:
            return False
        _set_account(db, advocate, network, DISCONNECTED, None, now)
        event = AdvocateDisconnected(
            post_id="", agency=agency, occurred_at=now, advocate=advocate, network=network
        )
        _write(db, event, advocate, "disconnected")
    log.info("advocate.disconnected", post_id="", agency=agency, advocate=advocate, network=network)
    return True


def me(db: sqlite_utils.Database, user: str) -> dict[str, Any]:
    """The user's consent and pseudonym (null without a standing consent), and each network's state."""
    consent = standing_consent(db, user)
    states: dict[str, tuple[str, str | None]] = {}
    if consent is not None:
        rows = db.execute(
            "select network, status, handle from advocate_accounts where advocate = ?", [consent.advocate]
        )
        states = {network: (status, handle) for network, status, handle in rows}
    accounts = []
    for network in ADVOCACY_NETWORKS:
        status, handle = states.get(network, (NOT_CONNECTED, None))
        if status == DISCONNECTED:
            status, handle = NOT_CONNECTED, None
        accounts.append({"network": network, "status": status, "handle": handle})
    return {
        "advocate": consent.advocate if consent else None,
        "consent": {
            "version": consent.version,
            "given_at": consent.consented_at,
            "language": consent.language,
            "text": consent.text,
        }
        if consent
        else None,
        "accounts": accounts,
    }


def _disconnected_since(db: sqlite_utils.Database, advocate: str, network: str, at: str) -> bool:
    """The advocate disconnected the account here after `at` (clocks differ by seconds between the
    node and the hub side, so only a disconnection is weighed against a message's date: a state the
    hub side reports for an account asked for here always comes after the asking)."""
    row = db.execute(
        "select 1 from advocate_accounts where advocate = ? and network = ? and status = ?"
        " and updated_at > ?",
        [advocate, network, DISCONNECTED, at],
    ).fetchone()
    return row is not None


def _consent_stands(db: sqlite_utils.Database, advocate: str) -> bool:
    row = db.execute("select opted_out_at from advocates where advocate = ?", [advocate]).fetchone()
    return row is not None and row[0] is None


def _apply_account(db: sqlite_utils.Database, event: AdvocateConnected | AdvocateAccountStatus) -> str | None:
    """A network's state for a standing advocate, unless she disconnected it here since. The state
    set, or None when nothing changed."""
    status = "connected" if isinstance(event, AdvocateConnected) else event.status
    if event.network not in ADVOCACY_NETWORKS or status not in ACCOUNT_STATUSES:
        return None
    handle = event.handle if isinstance(event, AdvocateConnected) else None
    with db.atomic():
        if not _consent_stands(db, event.advocate):
            return None
        if _disconnected_since(db, event.advocate, event.network, event.occurred_at):
            return None
        _set_account(db, event.advocate, event.network, status, handle, event.occurred_at)
    return status


def forget(db: sqlite_utils.Database, advocate: str) -> int:
    """Erase what the node holds of the pseudonym: the person's link, consent, accounts, and what the
    outbox kept of it. Returns how many consents were erased."""
    with db.atomic():
        erased = db.execute("delete from advocates where advocate = ?", [advocate]).rowcount
        db.execute("delete from advocate_accounts where advocate = ?", [advocate])
        db.execute("delete from advocacy_outbox where advocate = ?", [advocate])
    return int(erased)


def apply_advocacy_event(db: sqlite_utils.Database, agency: str, subject: str, data: bytes) -> None:
    """One message of the agency's ADVOCACY consumer (see the module)."""
    event = decode_any(subject, data)
    tokens = subject.split(".")
    alog = log.bind(post_id="", agency=agency, advocate=tokens[2] if len(tokens) > 2 else None)
    if tokens[1] != agency or event.agency != agency:  # the filter says ours: a bug upstream
        alog.error("advocacy.not_ours", subject_agency=tokens[1], event_agency=event.agency)
        return
    if getattr(event, "advocate", None) != tokens[2]:  # one advocate's subject speaks of her alone
        alog.error("advocacy.advocate_mismatch")
        return
    match event:
        case AdvocateConnected() if tokens[3] == "connected":
            if (state := _apply_account(db, event)) is not None:
                alog.info("advocate.account_state", network=event.network, status=state)
        case AdvocateAccountStatus():
            if (state := _apply_account(db, event)) is not None:
                alog.info("advocate.account_state", network=event.network, status=state)
        case AdvocateForgotten():
            alog.info("advocate.forgotten", erased=forget(db, event.advocate), by=event.by)
        case _:
            # The node's own (enrolled, opted_out, disconnected, app_password): written here first.
            pass


def store_sealing_key(db: sqlite_utils.Database, public_key: str, sequence: int) -> bool:
    """Keep the dispatcher's public key unless a later value is here; True when it changed."""
    with db.atomic():
        cursor = db.execute(
            "insert into sealing_key (name, public_key, sequence) values ('dispatcher', ?, ?)"
            " on conflict (name) do update set public_key = excluded.public_key, sequence = excluded.sequence"
            " where excluded.sequence > sealing_key.sequence",
            [public_key, sequence],
        )
    return cursor.rowcount == 1


def sealing_key(db: sqlite_utils.Database) -> str | None:
    row = db.execute("select public_key from sealing_key where name = 'dispatcher'").fetchone()
    return str(row[0]) if row else None
