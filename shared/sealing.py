"""Credentials sealed for the dispatcher alone (issue #16 item 2): an advocate types a Bluesky app
password at the agency node, which seals it with the dispatcher's public key; the sealed value may
cross the bus and sit in the node's outbox, and only the dispatcher's private key opens it.

libsodium's sealed boxes (`crypto_box_seal`, through PyNaCl): an ephemeral X25519 key per value,
authenticated encryption (XSalsa20-Poly1305), so the node cannot open what it sealed, two seals of
one value differ, and a tampered or misaddressed value fails to open instead of yielding garbage.
Sealed values read `sealed:v1:<base64url>`; keys travel as base64url too.

`purpose` binds a sealed value to its use (`bluesky-app-password:<advocate>`): a value sealed for one
advocate's connection cannot be replayed as another's, even by someone who can write to the bus.
"""

from __future__ import annotations

import base64
from pathlib import Path

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox

from shared.private_files import write_private

__all__ = ["PREFIX", "SealError", "Sealer", "Unsealer", "load_or_create_unsealer"]

PREFIX = "sealed:v1:"
_SEPARATOR = "\0"


class SealError(Exception):
    """A value is not sealed, not for this key, tampered with, or sealed for another purpose (the
    message never contains the value)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Sealer:
    """What an agency node holds: the dispatcher's public key, which seals and never opens."""

    def __init__(self, public_key: str) -> None:
        try:
            self._box = SealedBox(PublicKey(_unb64(public_key)))
        except (ValueError, TypeError, CryptoError):
            raise SealError("not a sealing public key (32 bytes, base64url)") from None

    def seal(self, value: str, *, purpose: str) -> str:
        if _SEPARATOR in purpose:
            raise ValueError("a purpose has no NUL character")
        return PREFIX + _b64(self._box.encrypt(f"{purpose}{_SEPARATOR}{value}".encode()))


class Unsealer:
    """What the dispatcher holds: the private key."""

    def __init__(self, private_key: PrivateKey) -> None:
        self._box = SealedBox(private_key)
        self.public_key = _b64(bytes(private_key.public_key))

    def open(self, sealed: str, *, purpose: str) -> str:
        if not sealed.startswith(PREFIX):
            raise SealError("the value is not sealed")
        try:
            opened = self._box.decrypt(_unb64(sealed[len(PREFIX) :])).decode()
        except (ValueError, CryptoError, UnicodeDecodeError):
            raise SealError(
                "the value does not open with this key (tampered, or sealed for another)"
            ) from None
        sealed_for, _, value = opened.partition(_SEPARATOR)
        if sealed_for != purpose:
            raise SealError("the value was sealed for another purpose")
        return value


def load_or_create_unsealer(path: Path) -> Unsealer:
    """The dispatcher's key pair, created owner-only on first use."""
    if path.exists():
        return Unsealer(PrivateKey(_unb64(path.read_text().strip())))
    key = PrivateKey.generate()
    write_private(path, (_b64(bytes(key)) + "\n").encode())
    return Unsealer(key)
