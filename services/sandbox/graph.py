"""The Graph API's error shape, which the Facebook, Instagram and Threads emulators share.

Follows developers.facebook.com, Graph API › Guides › "Handling Errors": `{"error": {"message",
"type", "code", "error_subcode", "is_transient", "fbtrace_id"}}`, transient for the throttling
and temporary codes.
"""

from __future__ import annotations

import secrets
from typing import Any

__all__ = ["graph_error"]

_TRANSIENT_CODES = frozenset({1, 2, 4, 17, 32, 341, 613})


def graph_error(
    message: str, code: int, *, subcode: int | None = None, kind: str = "OAuthException"
) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message, "type": kind, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    if code in _TRANSIENT_CODES:
        error["is_transient"] = True
    error["fbtrace_id"] = secrets.token_urlsafe(8)
    return {"error": error}
