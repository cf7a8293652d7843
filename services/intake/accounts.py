"""The node's copy of its agency's advisor accounts (argon2 hashes from the hub, never a password)
and the advisors' sessions, in the same shape as the hub's tables (shared/accounts.py)."""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.migrations import Migrations

migrations = Migrations("relais.intake.accounts")


@migrations()
def m001_accounts(db: sqlite_utils.Database) -> None:
    db.table("users").create(
        {
            "username": str,
            "password_hash": str,
            "role": str,
            "region": str,
            "agency": str,
            "disabled": int,
            "version": int,
            "created_at": str,
        },
        pk="username",
        not_null={"password_hash", "role", "disabled", "version"},
    )
    # A session is stored under the SHA-256 of its cookie: a copy of the table opens no session.
    db.table("sessions").create(
        {"id_hash": str, "username": str, "csrf": str, "created_at": str, "expires_at": str}, pk="id_hash"
    )
