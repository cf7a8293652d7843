"""`relais token …`: every token issued is recorded at the hub by its hash (never in clear), so it
can be listed and revoked."""

from __future__ import annotations

import sys
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.hub.store import issued_tokens, open_store, record_token, revoke_token
from shared.tokens import verify_token


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
            state = f"revoked {row['revoked_at']}" if row["revoked_at"] else "active"
            scope = row["agency"] or row["region"] or "national"
            print(f"{row['token_id']}  {row['role']:<9} {scope:<24} {row['subject']:<32} {state}")
    finally:
        db.close()
    return 0
