"""`relais token …`: every token issued is recorded at the hub by its hash (never in clear), so it
can be listed and revoked.

`relais token create` puts every option it is given in the token, or refuses: a scope its role does
not use (`shared.tokens.scope_problem`), an agency or region that is not a registry id, one the
hub's registry does not know (checked once pages have been imported), a lifetime outside 1–365
days, a subject with control characters. A refusal prints why, exits 2 and issues nothing.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.hub.store import issued_tokens, open_store, record_token, revoke_token
from shared.ids import is_slug
from shared.tokens import issue_token, load_or_create_private_key, scope_problem, verify_token

__all__ = ["MAX_TTL_DAYS", "TokenRequest", "create", "list_tokens", "record", "revoke"]

MAX_TTL_DAYS = 365  # a longer-lived token is a password nobody rotates
MAX_SUBJECT_LENGTH = 128


@dataclass(frozen=True)
class TokenRequest:
    role: str
    agency: str | None
    region: str | None
    subject: str | None
    ttl_days: int

    def default_subject(self) -> str:
        return f"{self.role}@{self.agency or self.region}" if self.agency or self.region else self.role


def _problem(request: TokenRequest, registry: Path) -> str | None:
    """Why `request` cannot be issued, or None."""
    if (problem := scope_problem(request.role, request.agency, request.region)) is not None:
        return problem
    for option, value in (("agency", request.agency), ("region", request.region)):
        if value is not None and not is_slug(value):
            return f"--{option} {value!r} is not a registry id (lower-case letters, digits, - or _)"
    if not 1 <= request.ttl_days <= MAX_TTL_DAYS:
        return f"--ttl-days must be between 1 and {MAX_TTL_DAYS}, not {request.ttl_days}"
    subject = request.subject
    if subject is not None and not (0 < len(subject) <= MAX_SUBJECT_LENGTH and subject.isprintable()):
        return f"--subject must be 1 to {MAX_SUBJECT_LENGTH} printable characters"
    return _unknown_to_registry(registry, request.agency, request.region)


def _unknown_to_registry(registry: Path, agency: str | None, region: str | None) -> str | None:
    """An agency or region the federation's registry does not know; None if it does, or if no page
    has been imported yet (a hub being set up may issue tokens first)."""
    if not registry.exists():
        return None
    db = sqlite3.connect(f"{registry.resolve().as_uri()}?mode=ro", uri=True)
    try:
        if db.execute("select count(*) from sqlite_master where name = 'pages'").fetchone()[0] == 0:
            return None
        if db.execute("select 1 from pages limit 1").fetchone() is None:
            return None
        for column, value in (("agency", agency), ("region", region)):
            if value is None:
                continue
            if db.execute(f"select 1 from pages where {column} = ? limit 1", [value]).fetchone() is None:
                return f"the registry has no {column} {value!r} (see `relais pages import`)"
    finally:
        db.close()
    return None


def create(database: Path, key_path: Path, registry: Path, request: TokenRequest) -> int:
    """Print a signed token carrying exactly what was asked, recorded at the hub; 2 if refused."""
    if (problem := _problem(request, registry)) is not None:
        print(f"relais: {problem}; no token was issued", file=sys.stderr)
        return 2
    key = load_or_create_private_key(key_path)
    token = issue_token(
        key,
        role=request.role,
        subject=request.subject or request.default_subject(),
        agency=request.agency,
        region=request.region,
        ttl_seconds=request.ttl_days * 86400,
    )
    record(database, token, key)
    print(token)
    return 0


def record(database: Path, token: str, key: Ed25519PrivateKey) -> None:
    db = open_store(database)
    try:
        record_token(db, token, verify_token(key.public_key(), token))
    finally:
        db.close()


def revoke(database: Path, token_id: str) -> int:
    db = open_store(database)
    try:
        if not revoke_token(db, token_id):
            print(f"relais: no active token {token_id!r} at this hub", file=sys.stderr)
            return 2
    finally:
        db.close()
    print(f"revoked {token_id}; agency nodes refuse it as soon as they hear from the hub")
    return 0


def list_tokens(database: Path) -> int:
    db = open_store(database)
    try:
        for row in issued_tokens(db):
            expires = time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(int(row["expires_at"])))
            state = f"revoked {row['revoked_at']}" if row["revoked_at"] else f"active until {expires}"
            print(f"{row['token_id']}  {row['role']:<9} {_scope(row):<32} {state:<30} {row['subject']}")
    finally:
        db.close()
    return 0


def _scope(row: dict[str, str | None]) -> str:
    """What the token reaches, as the hub's selectors name it."""
    if row["agency"]:
        return f"agency:{row['agency']}"
    if row["region"]:
        return f"region:{row['region']}"
    return "national" if row["role"] == "moderator" else "all"
