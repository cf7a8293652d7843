"""What people write to an account, asked for by a test or the demo (sandbox-only routes).

An emulator whose network's comments are read per network (YouTube, LinkedIn) takes a JSON object
`{"account", "texts"? | "count"?, …}` on its own `/_sandbox/<network>/comments` route: `Writing.read`
checks what they share (the account; one text per item, or `count` items "Question 1", "Question 2"…;
at most `MAX_WRITTEN` at once) and each emulator reads its own fields from `Writing.data`. A refusal
is a 400 `{"error": "<what is wrong>"}`, like the other sandbox routes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

__all__ = ["MAX_WRITTEN", "Writing", "refused"]

MAX_WRITTEN = 1000


def refused(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)


@dataclass(frozen=True)
class Writing:
    """A request to write `count` items to `account`; `data` is the whole JSON object."""

    account: str
    texts: tuple[str, ...]
    count: int
    data: dict[str, Any]

    def text(self, number: int) -> str:
        """The text of the `number`-th item (from 0): the texts in turn, else "Question n"."""
        return self.texts[number % len(self.texts)] if self.texts else f"Question {number + 1}"

    @classmethod
    async def read(cls, request: web.Request) -> Writing | web.Response:
        try:
            data = await request.json()
        except ValueError:
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("account"), str) or not data["account"]:
            return refused("send a JSON object with the account written to")
        texts = data.get("texts", [])
        if not isinstance(texts, list) or not all(isinstance(text, str) for text in texts):
            return refused("texts must be a list of strings")
        count = data.get("count", len(texts) or 1)
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_WRITTEN:
            return refused(f"count must be a whole number from 1 to {MAX_WRITTEN}")
        return cls(data["account"], tuple(texts), count, data)
