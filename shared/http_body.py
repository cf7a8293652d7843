"""Reading request bodies: the one JSON reader, the one multipart reader and the one form reader of
every Relais API. A body that is not what the route takes (another content type, broken JSON, invalid UTF-8,
nesting deeper than `MAX_JSON_DEPTH`, a multipart body without boundary or with a broken part
header) raises `BodyError`, which `shared.web.error_middleware` answers with a 4xx in the JSON
error shape; none of them may reach a handler as an exception it does not expect (a 500).
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import BodyPartReader, MultipartReader, web
from aiohttp.http_exceptions import HttpProcessingError
from multidict import MultiDictProxy

__all__ = ["MAX_JSON_DEPTH", "BodyError", "next_part", "read_form", "read_json", "read_multipart"]

# Far deeper than any body of the API, far below what would exhaust the parser's stack.
MAX_JSON_DEPTH = 32
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class BodyError(Exception):
    """A body refused before any handler logic ran: status, code, message (the JSON error shape)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


async def read_json(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object; an empty body is `{}` (routes whose fields are all optional)."""
    if not request.can_read_body:
        return {}
    if not _is_json(request.content_type):
        raise BodyError(400, "invalid_body", "send the body as application/json")
    raw = await request.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BodyError(400, "invalid_json", "the body is not valid UTF-8") from None
    if _depth(text) > MAX_JSON_DEPTH:
        raise BodyError(400, "invalid_json", f"the body nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        body = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise BodyError(400, "invalid_json", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BodyError(400, "invalid_body", "the body must be a JSON object")
    return body


async def read_multipart(request: web.Request) -> MultipartReader:
    """A multipart/form-data body's reader (its parts come through `next_part`)."""
    if request.content_type != "multipart/form-data":
        raise BodyError(400, "invalid_body", "send multipart/form-data")
    try:
        return await request.multipart()
    except (ValueError, HttpProcessingError):
        raise BodyError(400, "invalid_body", "the multipart body has no valid boundary") from None


async def next_part(reader: MultipartReader) -> BodyPartReader | None:
    """The next part, or None after the last; nested multipart bodies are refused."""
    try:
        part = await reader.next()
    except (ValueError, HttpProcessingError):
        raise BodyError(400, "invalid_body", "a part of the multipart body is malformed") from None
    if part is not None and not isinstance(part, BodyPartReader):
        raise BodyError(400, "invalid_body", "nested multipart bodies are not accepted")
    return part


async def read_form(request: web.Request) -> MultiDictProxy[str | bytes | bytearray | web.FileField]:
    """An HTML form's fields (urlencoded or multipart)."""
    if request.can_read_body and request.content_type not in _FORM_TYPES:
        raise BodyError(400, "invalid_body", "send the form as application/x-www-form-urlencoded")
    try:
        return await request.post()
    except (ValueError, HttpProcessingError, UnicodeDecodeError):
        raise BodyError(400, "invalid_body", "the form body is malformed") from None


def _is_json(content_type: str) -> bool:
    return content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


def _depth(text: str) -> int:
    """How deeply arrays and objects nest (brackets inside strings do not count); stops counting
    once past the limit, so a long body of brackets costs one pass at most."""
    depth = deepest = 0
    for bracket in _BRACKET.findall(_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        if depth > deepest:
            deepest = depth
            if deepest > MAX_JSON_DEPTH:
                break
    return deepest
