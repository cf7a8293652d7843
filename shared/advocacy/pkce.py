"""OAuth 2.0 Proof Key for Code Exchange (RFC 7636), as X's and LinkedIn's authorisation flows use it
for an advocate's personal account: the node never sees the code, the hub's callback exchanges it
with the verifier it alone kept."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

__all__ = ["challenge_s256", "new_verifier", "verifies"]

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def new_verifier() -> str:
    """A fresh `code_verifier`: 32 random octets, base64url without padding (43 characters)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode("ascii")


def challenge_s256(verifier: str) -> str:
    """`BASE64URL(SHA256(ASCII(code_verifier)))`, the `S256` method's `code_challenge`."""
    if not 43 <= len(verifier) <= 128 or not set(verifier) <= _UNRESERVED:
        raise ValueError("a code_verifier is 43 to 128 characters among A-Z a-z 0-9 - . _ ~")
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def verifies(verifier: str, challenge: str) -> bool:
    """What an authorisation server checks at the token endpoint (the sandbox's emulators do)."""
    try:
        return hmac.compare_digest(challenge_s256(verifier), challenge)
    except ValueError:
        return False
