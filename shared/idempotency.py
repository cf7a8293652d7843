"""`Idempotency-Key`, as the node's and the hub's write APIs take it (the IETF draft "The
Idempotency-Key HTTP Header Field"): 1 to 255 visible ASCII characters, one key of one author for
one request, whose fingerprint tells a resend from another request under the same key, and the
answer to a resend. Each service keeps its keys in its own store.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Annotated, Any

import msgspec
import structlog
from aiohttp import web

from shared.api_contract import typed_json
from shared.post_api import Accepted
from shared.web import json_error

__all__ = ["IDEMPOTENCY_KEY", "INVALID_KEY", "KeyHeader", "fingerprint", "replayed", "valid_key"]

log = structlog.get_logger("relais.idempotency")

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


def replayed(post_id: str, agency: str, first: str, fingerprint: str, status: str) -> web.Response:
    """The answer to a key used before (`first`: that request's fingerprint): the first post's id,
    with `Idempotent-Replayed`, as the first answer said it (`status`); the same key with another
    request is refused, so a client's bug never silently drops a post."""
    if fingerprint != first:
        message = f"this Idempotency-Key was already used for another request (post {post_id})"
        return json_error(422, "idempotency_key_reused", message, IDEMPOTENCY_KEY)
    log.info("post.replayed", post_id=post_id, agency=agency)
    response = typed_json(Accepted(id=post_id, status=status), Accepted, 202)
    response.headers["Idempotent-Replayed"] = "true"
    return response
