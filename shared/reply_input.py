"""A reply's text as the node's and the hub's replies APIs take it (issue #15 item 4): the writer's own
`text`, or one of the hub team's saved replies (`saved_reply`) filled in with `values` over what the
service knows by default (`{agence}`, and `{auteur}` at the node). Exactly one of them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from shared.post_input import InputError
from shared.saved_replies import SavedReply, SavedReplyError, fill

__all__ = ["reply_text"]


def reply_text(
    body: Mapping[str, Any],
    find: Callable[[str], SavedReply | None],
    known: Callable[[], list[str]],
    defaults: Mapping[str, str],
) -> Any:
    """The text to check and send (`text` as given: `check_text` says what is wrong with it), or the
    saved reply `find` returns, filled in; `known` lists the saved replies' ids for the refusal."""
    if "text" in body and "saved_reply" in body:
        raise InputError(400, "conflicting_fields", "give text or saved_reply, not both", "saved_reply")
    if "values" in body and "saved_reply" not in body:
        raise InputError(400, "conflicting_fields", "values go with a saved_reply", "values")
    if "saved_reply" not in body:
        return body.get("text")
    saved = find(body["saved_reply"])
    if saved is None:
        ids = ", ".join(known()) or "none here yet"
        message = f"no saved reply {body['saved_reply']!r}; known: {ids}"
        raise InputError(422, "unknown_saved_reply", message, "saved_reply")
    values = {**{k: v for k, v in defaults.items() if v}, **body.get("values", {})}
    try:
        return fill(saved, values)
    except SavedReplyError as exc:
        raise InputError(422, "missing_value", str(exc), exc.field) from None
