"""`Idempotency-Key`, as the node's and the hub's write APIs take it (the IETF draft "The
Idempotency-Key HTTP Header Field"): 1 to 255 visible ASCII characters, one key of one author for
one request, whose fingerprint tells a resend from another request under the same key. Pure: each
service keeps its keys in its own store.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Annotated, Any

import msgspec

__all__ = ["IDEMPOTENCY_KEY", "INVALID_KEY", "KeyHeader", "fingerprint", "valid_key"]

IDEMPOTENCY_KEY = "Idempotency-Key"
INVALID_KEY = "Idempotency-Key must be 1 to 255 visible ASCII characters (a UUID, for example)"
_VALID = re.compile(r"[\x21-\x7e]{1,255}")
# The header's schema in the OpenAPI documents.
KeyHeader = Annotated[str, msgspec.Meta(min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$")]


def valid_key(key: str) -> bool:
    return _VALID.fullmatch(key) is not None


def fingerprint(body: Any, scope: str = "") -> str:
    """The request a key was used for: its JSON body (keys sorted) and `scope`, what else it names
    (a conversation)."""
    signed = json.dumps(body, sort_keys=True) + (f"\0{scope}" if scope else "")
    return hashlib.sha256(signed.encode()).hexdigest()
