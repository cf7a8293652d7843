"""Network credentials at rest: each value is encrypted with a key that comes from the environment
(`RELAIS_SECRETS_KEY`, or the file `RELAIS_SECRETS_KEY_FILE` names), never from the credentials file.

Fernet (AES-128-CBC with HMAC-SHA256, from `cryptography`): authenticated, so a tampered value fails
to decrypt instead of yielding garbage. Encrypted values read `enc:v1:<token>`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from shared import config

__all__ = ["PREFIX", "SecretBox", "SecretError", "load_or_create_key"]

PREFIX = "enc:v1:"


class SecretError(Exception):
    """A value is not encrypted, or not with this key (message never contains the value)."""


class SecretBox:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def seal(self, value: str) -> str:
        return PREFIX + self._fernet.encrypt(value.encode()).decode()

    def open(self, sealed: str) -> str:
        if not sealed.startswith(PREFIX):
            raise SecretError("a credential is stored in clear; store it with `relais credentials set`")
        try:
            return self._fernet.decrypt(sealed[len(PREFIX) :].encode()).decode()
        except InvalidToken:
            raise SecretError("a credential does not decrypt with RELAIS_SECRETS_KEY") from None


def key_path(env: Mapping[str, str] = os.environ) -> Path:
    return Path(env.get("RELAIS_SECRETS_KEY_FILE") or config.data_dir(env) / "keys" / "secrets.key")


def load_or_create_key(env: Mapping[str, str] = os.environ) -> bytes:
    """The key from `RELAIS_SECRETS_KEY`, else from its file (created, mode 0600, on first use)."""
    if env.get("RELAIS_SECRETS_KEY"):
        return env["RELAIS_SECRETS_KEY"].encode()
    path = key_path(env)
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key)
    return key
