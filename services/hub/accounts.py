"""Dashboard accounts: people who sign in at the hub, their argon2 password hashes and their sessions.

Passwords are kept only as argon2id hashes (argon2-cffi's defaults, rehashed on sign-in when those
defaults grow). A session is a random cookie value; the hub stores its SHA-256 with the session's
CSRF token and expiry, so a copy of the database opens no session. Roles are the token roles that
may use the dashboard: `moderator` (with a region, or national), `admin` and `ops` (read-only).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlite_utils
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from shared.ids import utc_now

__all__ = [
    "DASHBOARD_ROLES",
    "MIN_PASSWORD_LENGTH",
    "AccountError",
    "NewSession",
    "add_user",
    "check_password",
    "close_session",
    "create_user",
    "hash_password",
    "live_session",
    "needs_rehash",
    "open_session",
    "session_id_hash",
    "set_password_hash",
    "user",
]

DASHBOARD_ROLES = ("moderator", "admin", "ops")
MIN_PASSWORD_LENGTH = 12
SESSION_LIFETIME = timedelta(hours=10)  # a working day; then sign in again
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")
_REGION = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


class AccountError(ValueError):
    """An account cannot be created as asked (the message is safe to show)."""


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
    db: sqlite_utils.Database, username: str, role: str, region: str | None, password: str
) -> None:
    """Check the request, hash the password and store the user; `AccountError` says what is wrong."""
    if not _USERNAME.fullmatch(username):
        raise AccountError(
            "a username is 1–64 lower-case letters, digits and . _ @ - (starting with a letter or digit)"
        )
    if role not in DASHBOARD_ROLES:
        raise AccountError(f"role must be one of {', '.join(DASHBOARD_ROLES)}")
    if region is not None and role != "moderator":
        raise AccountError("only a moderator has a region (admins and ops see every region)")
    if region is not None and not _REGION.fullmatch(region):
        raise AccountError("a region is its registry id, e.g. auvergne-rhone-alpes")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    if not add_user(db, username, hash_password(password), role, region):
        raise AccountError(f"user {username} already exists")


def add_user(
    db: sqlite_utils.Database, username: str, password_hash: str, role: str, region: str | None
) -> bool:
    """Store a user; False when the name is taken."""
    with db.atomic():
        cursor = db.execute(
            "insert or ignore into users (username, password_hash, role, region, created_at)"
            " values (?, ?, ?, ?, ?)",
            [username, password_hash, role, region, utc_now()],
        )
    return cursor.rowcount == 1


def user(db: sqlite_utils.Database, username: str) -> dict[str, Any] | None:
    rows = list(db.table("users").rows_where("username = ?", [username]))
    return dict(rows[0]) if rows else None


def set_password_hash(db: sqlite_utils.Database, username: str, password_hash: str) -> None:
    with db.atomic():
        db.execute("update users set password_hash = ? where username = ?", [password_hash, username])


def open_session(db: sqlite_utils.Database, username: str, now: datetime | None = None) -> NewSession:
    now = now or datetime.now(UTC)
    new = NewSession(secrets.token_urlsafe(32), secrets.token_urlsafe(32), now + SESSION_LIFETIME)
    with db.atomic():
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


def live_session(db: sqlite_utils.Database, cookie: str) -> dict[str, Any] | None:
    """The session with its user's current role and region; None once expired, closed or unknown."""
    rows = db.execute_returning_dicts(
        "select s.id_hash, s.username, s.csrf, s.expires_at, u.role, u.region from sessions s"
        " join users u on u.username = s.username where s.id_hash = ? and s.expires_at > ?",
        [session_id_hash(cookie), _iso(datetime.now(UTC))],
    )
    return rows[0] if rows else None


def close_session(db: sqlite_utils.Database, cookie: str) -> None:
    with db.atomic():
        db.execute("delete from sessions where id_hash = ?", [session_id_hash(cookie)])


def _iso(moment: datetime) -> str:
    # The same shape as utc_now(), so that stored times compare as strings.
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
