"""`relais credentials set REF FIELD`: store one network credential, encrypted, in the dispatcher's
credentials file. The value is read from standard input so it stays out of shell history."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from shared.secrets import SecretBox, load_or_create_key


def set_credential(path: Path, ref: str, field: str) -> int:
    value = sys.stdin.readline().rstrip("\n")
    if not value:
        print("relais: give the value on standard input", file=sys.stderr)
        return 2
    credentials = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    credentials.setdefault(ref, {})[field] = SecretBox(load_or_create_key()).seal(value)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(credentials, out, indent=2)
    print(f"stored {field} of {ref} (encrypted) in {path}")
    return 0
