"""Bearer tokens signed by the hub, checkable by an agency node while it is offline.

Tokens are JWTs signed with the hub's Ed25519 key (EdDSA, through PyJWT): agencies hold only the
public key, so they can check a token without the hub and cannot mint one.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from ulid import ULID

__all__ = [
    "ROLES",
    "Claims",
    "TokenError",
    "issue_token",
    "load_or_create_private_key",
    "load_public_key",
    "scope_problem",
    "verify_token",
]

ROLES = ("advisor", "moderator", "admin", "ops")
ISSUER = "relais-hub"


class TokenError(Exception):
    """The token is missing, malformed, expired or not signed by the hub (message is safe to show)."""


@dataclass(frozen=True)
class Claims:
    subject: str
    role: str
    agency: str | None
    expires_at: int
    token_id: str
    region: str | None = None  # a regional moderator's region; None means national


def load_or_create_private_key(path: Path) -> Ed25519PrivateKey:
    """Load the hub's signing key, creating it (mode 0600) and its public half on first use."""
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} is not an Ed25519 private key")
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    public_path(path).write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return key


def public_path(private_key_path: Path) -> Path:
    return private_key_path.with_name(private_key_path.stem + ".pub.pem")


def load_public_key(path: Path) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path} is not an Ed25519 public key")
    return key


def scope_problem(role: str, agency: str | None, region: str | None) -> str | None:
    """Why a token of `role` cannot carry this agency and region, or None when it can.

    A token has one scope and it follows from its role: an advisor acts for one agency (its region
    follows from the agency), a moderator for one region or, without one, the whole nation, admins
    and ops for everything. A claim the role does not use is refused rather than ignored, since a
    reader of the token (or of `relais token list`) would take it for a restriction.
    """
    if role == "advisor":
        if not agency:
            return "an advisor token needs an agency"
        if region:
            return "an advisor acts for its agency, whose region follows from it: give no region"
    elif role == "moderator":
        if agency:
            return "a moderator's scope is a region, or the whole nation without one, never an agency"
    elif agency or region:
        return f"an {role} token covers every agency and region: give it neither an agency nor a region"
    return None


def issue_token(
    key: Ed25519PrivateKey,
    *,
    role: str,
    subject: str,
    agency: str | None = None,
    region: str | None = None,
    ttl_seconds: int = 30 * 24 * 3600,
    now: float | None = None,
) -> str:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    if (problem := scope_problem(role, agency, region)) is not None:
        raise ValueError(problem)
    issued = int(now if now is not None else time.time())
    payload: dict[str, object] = {
        "iss": ISSUER,
        "sub": subject,
        "role": role,
        "iat": issued,
        "exp": issued + ttl_seconds,
        "jti": str(ULID()),
    }
    if agency:
        payload["agency"] = agency
    if region:
        payload["region"] = region
    return jwt.encode(payload, key, algorithm="EdDSA")


def verify_token(key: Ed25519PublicKey, token: str) -> Claims:
    try:
        payload = jwt.decode(
            token, key, algorithms=["EdDSA"], issuer=ISSUER, options={"require": ["exp", "sub", "iss"]}
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenError("the token has expired") from exc
    except jwt.InvalidTokenError as exc:
        raise TokenError("the token is not valid") from exc
    role = payload.get("role")
    if role not in ROLES:
        raise TokenError("the token has no valid role")
    return Claims(
        subject=str(payload["sub"]),
        role=str(role),
        agency=payload.get("agency"),
        expires_at=int(payload["exp"]),
        token_id=str(payload.get("jti", "")),
        region=payload.get("region"),
    )
