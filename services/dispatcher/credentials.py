"""Network credentials, looked up by the reference a page carries in the registry.

The file maps a reference to the fields its adapter needs (`{"token": …}`, Bluesky
`{"identifier": …, "password": …}`). It is re-read when a reference is missing, so ops can add a
page's token without a restart, and when a person asks to retry a page they reconnected.
Every value is encrypted at rest (`shared.secrets`) and decrypted only here, once per reference
until the file is re-read (at start, then as a reference is first used after a re-read); values
never reach logs or errors.
"""

from __future__ import annotations

import json
from pathlib import Path

import structlog

from shared.secrets import SecretBox, SecretError, load_or_create_key

log = structlog.get_logger("relais.dispatcher.credentials")


class CredentialStore:
    def __init__(self, path: Path, box: SecretBox | None = None) -> None:
        self._path = path
        self._box = box or SecretBox(load_or_create_key())
        self._values: dict[str, dict[str, str]] = {}
        self._opened: dict[str, dict[str, str]] = {}

    def get(self, ref: str) -> dict[str, str] | None:
        if ref in self._opened:
            return self._opened[ref]
        if ref not in self._values:
            self._reload()
        sealed = self._values.get(ref)
        if sealed is None:
            return None
        try:
            opened = {name: self._box.open(value) for name, value in sealed.items()}
        except SecretError as exc:
            log.error("credentials.unreadable", credentials_ref=ref, error=str(exc))
            return None
        self._opened[ref] = opened
        return opened

    def open_all(self) -> int:
        """Decrypt every reference now (at start): a national post's first fan-out then pays for no
        decryption on its path, as later ones do not. Returns how many could be read."""
        self._reload()
        return sum(self.get(ref) is not None for ref in list(self._values))

    def reload(self) -> None:
        """Forget what was read: a reconnected page's new token is read on next use."""
        self._reload()

    def _reload(self) -> None:
        self._opened = {}
        if self._path.exists():
            self._values = json.loads(self._path.read_text(encoding="utf-8"))
