"""Accounts of people who sign in: at the hub's dashboard, and advisors at their agency's node.

Passwords are kept only as argon2id hashes (argon2-cffi's defaults, rehashed on a hub sign-in when
those defaults grow). A session is a random cookie value; the service stores its SHA-256 with the
session's CSRF token and expiry, so a copy of the database opens no session. Roles are the token
roles: `moderator` (with a region, or national), `admin` and `ops` (read-only) use the hub's
dashboard; an `advisor` belongs to one agency, is managed at the hub and signs in at that agency's
node only, which holds a copy of the account (`AdvisorAccount`, its hash, never the password).

The hub's `users` and `sessions` tables and a node's have the same columns, so one implementation
serves both. Each change to an account bumps its `version`; a node keeps the highest it has seen.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import sqlite_utils
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from shared.ids import is_slug, utc_now
from shared.sqlite_writes import write_transaction

__all__ = [
    "ACCOUNT_ROLES",
    "ADVISORS_BUCKET",
    "DASHBOARD_ROLES",
    "MIN_PASSWORD_LENGTH",
    "AccountError",
    "AdvisorAccount",
    "NewSession",
    "add_user",
    "advisor_accounts",
    "advisor_key",
    "check_password",
    "close_session",
    "create_user",
    "disable_user",
    "hash_password",
    "live_session",
    "needs_rehash",
    "open_session",
    "session_id_hash",
    "set_password_hash",
    "store_advisor",
    "user",
]

DASHBOARD_ROLES = ("moderator", "admin", "ops")
ACCOUNT_ROLES = (*DASHBOARD_ROLES, "advisor")
# The hub's advisor accounts, keyed `<agency>.<hex of the username>`: each node reads its agency's
# keys only, through a consumer the hub creates (shared/agency_consumers.py).
ADVISORS_BUCKET = "advisor_accounts"
MIN_PASSWORD_LENGTH = 12
SESSION_LIFETIME = timedelta(hours=10)  # a working day; then sign in again
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")
_REGION = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


class AccountError(ValueError):
    """An account cannot be created as asked (the message is safe to show)."""


class AdvisorAccount(msgspec.Struct, frozen=True):
    """An advisor's account as it travels to its agency's node: the argon2 hash, never the password."""

    username: str
    role: str
    agency: str
    password_hash: str
    disabled: bool
    version: int


def advisor_key(agency: str, username: str) -> str:
    # A username may hold '@' and '.', which a key may not (or would split): hex keeps it one token.
    return f"{agency}.{username.encode().hex()}"


@dataclass(frozen=True)
class NewSession:
    cookie: str  # goes to the browser only
    csrf: str
    expires_at: datetime


def hash_password(password: str) -> str:
    return PasswordHasher().hash(password)


def check_password(password_hash: str, password: str) -> bool:
    """Slow on purpose (argon2): call it off the event loop."""
    try:
        return PasswordHasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return PasswordHasher().check_needs_rehash(password_hash)


def session_id_hash(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()


def create_user(
    db: sqlite_utils.Database,
    username: str,
    role: str,
    region: str | None,
    password: str,
    agency: str | None = None,
) -> None:
    """Check the request, hash the password and store the user; `AccountError` says what is wrong."""
    if not _USERNAME.fullmatch(username):
        raise AccountError(
            "a username is 1–64 lower-case letters, digits and . _ @ - (starting with a letter or digit)"
        )
    if role not in ACCOUNT_ROLES:
        raise AccountError(f"role must be one of {', '.join(ACCOUNT_ROLES)}")
    if region is not None and role != "moderator":
        raise AccountError("only a moderator has a region (admins and ops see every region)")
    if region is not None and not _REGION.fullmatch(region):
        raise AccountError("a region is its registry id, e.g. auvergne-rhone-alpes")
    if (role == "advisor") != (agency is not None):
        raise AccountError("an advisor has an agency (--agency), and only an advisor has one")
    if agency is not None and not is_slug(agency):
        raise AccountError("an agency is its registry id, e.g. lyon-part-dieu")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    if not add_user(db, username, hash_password(password), role, region, agency):
        raise AccountError(f"user {username} already exists")


def add_user(
    db: sqlite_utils.Database,
    username: str,
    password_hash: str,
    role: str,
    region: str | None,
    agency: str | None = None,
) -> bool:
    """Store a user; False when the name is taken."""
    with write_transaction(db):
        cursor = db.execute(
            "insert or ignore into users"
            " (username, password_hash, role, region, agency, disabled, version, created_at)"
            " values (?, ?, ?, ?, ?, 0, 1, ?)",
            [username, password_hash, role, region, agency, utc_now()],
        )
    return cursor.rowcount == 1


def disable_user(db: sqlite_utils.Database, username: str) -> bool:
    """Disable the account and end its open sessions; False when there is no such user."""
    with write_transaction(db):
        cursor = db.execute(
            "update users set disabled = 1, version = coalesce(version, 0) + 1 where username = ?",
            [username],
        )
        db.execute("delete from sessions where username = ?", [username])
    return cursor.rowcount == 1


def advisor_accounts(db: sqlite_utils.Database) -> list[AdvisorAccount]:
    """Every advisor's account as the hub replicates it to the advisor's agency."""
    rows = db.execute(
        "select username, role, agency, password_hash, disabled, version from users"
        " where role = 'advisor' and agency is not null order by username"
    ).fetchall()
    return [AdvisorAccount(r[0], r[1], r[2], r[3], bool(r[4]), int(r[5] or 0)) for r in rows]


def store_advisor(db: sqlite_utils.Database, account: AdvisorAccount) -> bool:
    """Keep a copy of the hub's account at the node, unless a newer one is already here; a disabled
    account's sessions end at once. True when stored."""
    with write_transaction(db):
        cursor = db.execute(
            "insert into users (username, password_hash, role, region, agency, disabled, version, created_at)"
            " values (?, ?, ?, null, ?, ?, ?, ?) on conflict (username) do update set"
            " password_hash = excluded.password_hash, role = excluded.role, agency = excluded.agency,"
            " disabled = excluded.disabled, version = excluded.version"
            " where excluded.version > users.version",
            [
                account.username,
                account.password_hash,
                account.role,
                account.agency,
                int(account.disabled),
                account.version,
                utc_now(),
            ],
        )
        if account.disabled:
            db.execute("delete from sessions where username = ?", [account.username])
    return cursor.rowcount == 1


def user(db: sqlite_utils.Database, username: str) -> dict[str, Any] | None:
    rows = list(db.table("users").rows_where("username = ?", [username]))
    return dict(rows[0]) if rows else None


def set_password_hash(db: sqlite_utils.Database, username: str, password_hash: str) -> None:
    with write_transaction(db):
        # A new version, so that an advisor's node replaces its copy (every change to an account does).
        db.execute(
            "update users set password_hash = ?, version = coalesce(version, 0) + 1 where username = ?",
            [password_hash, username],
        )


def open_session(db: sqlite_utils.Database, username: str, now: datetime | None = None) -> NewSession:
    now = now or datetime.now(UTC)
    new = NewSession(secrets.token_urlsafe(32), secrets.token_urlsafe(32), now + SESSION_LIFETIME)
    with write_transaction(db):
        db.execute("delete from sessions where expires_at <= ?", [_iso(now)])  # tidy as people sign in
        db.table("sessions").insert(
            {
                "id_hash": session_id_hash(new.cookie),
                "username": username,
                "csrf": new.csrf,
                "created_at": _iso(now),
                "expires_at": _iso(new.expires_at),
            }
        )
    return new


def live_session(
    db: sqlite_utils.Database, cookie: str, roles: tuple[str, ...] = DASHBOARD_ROLES
) -> dict[str, Any] | None:
    """The session with its user's current role, region and agency; None once expired, closed,
    unknown, disabled, or of a role this service does not sign in (`roles`)."""
    marks = ",".join("?" * len(roles))
    rows = db.execute_returning_dicts(
        "select s.id_hash, s.username, s.csrf, s.expires_at, u.role, u.region, u.agency from sessions s"
        " join users u on u.username = s.username where s.id_hash = ? and s.expires_at > ?"
        f" and not coalesce(u.disabled, 0) and u.role in ({marks})",
        [session_id_hash(cookie), _iso(datetime.now(UTC)), *roles],
    )
    return rows[0] if rows else None


def close_session(db: sqlite_utils.Database, cookie: str) -> None:
    with write_transaction(db):
        db.execute("delete from sessions where id_hash = ?", [session_id_hash(cookie)])


def _iso(moment: datetime) -> str:
    # The same shape as utc_now(), so that stored times compare as strings.
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
