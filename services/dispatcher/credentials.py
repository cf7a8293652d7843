"""Network credentials, looked up by the reference a page carries in the registry.

The file maps a reference to the fields its adapter needs (`{"token": …}`, Bluesky
`{"identifier": …, "password": …}`). It is re-read when a reference is missing, so ops can add a
page's token without a restart, and when a person asks to retry a page they reconnected.
Values never reach logs or errors.
"""

from __future__ import annotations

import json
from pathlib import Path


class CredentialStore:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._values: dict[str, dict[str, str]] = {}

    def get(self, ref: str) -> dict[str, str] | None:
        if ref not in self._values:
            self._reload()
        return self._values.get(ref)

    def reload(self) -> None:
        """Forget what was read: a reconnected page's new token is read on next use."""
        self._reload()

    def _reload(self) -> None:
        if self._path.exists():
            self._values = json.loads(self._path.read_text(encoding="utf-8"))
