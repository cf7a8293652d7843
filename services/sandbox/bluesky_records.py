"""What a PDS checks in an `app.bsky.feed.post` record before writing it (pure functions).

Follows the lexicons `app.bsky.feed.post`, `app.bsky.richtext.facet` and
`com.atproto.repo.strongRef` (bluesky-social/atproto, copied in shared/vectors/bluesky), the
atproto "Record Key" specification, and what a real PDS answered when tried on this machine
(design/real-peers.md): `grapheme too big (maximum 300, got 301)` and `string too big` for the
3000-byte limit, 400 for a bad facet URI.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import datetime
from typing import Any

import regex

__all__ = ["POST_COLLECTION", "post_problem", "record_cid", "record_key_problem"]

POST_COLLECTION = "app.bsky.feed.post"
_MAX_GRAPHEMES = 300
_MAX_BYTES = 3000
_RECORD_KEY = re.compile(r"[A-Za-z0-9._:~-]{1,512}")
_URI_SCHEME = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*:\S+")
_GRAPHEME = regex.compile(r"\X")
_FEATURES = {
    "app.bsky.richtext.facet#link": "uri",
    "app.bsky.richtext.facet#mention": "did",
    "app.bsky.richtext.facet#tag": "tag",
}


def record_key_problem(rkey: str) -> str | None:
    """Why `rkey` is not a valid record key (atproto "Record Key" syntax), or None."""
    if not _RECORD_KEY.fullmatch(rkey) or rkey in (".", ".."):
        return f"Invalid record key: {rkey!r}"
    return None


def record_cid(value: dict[str, Any]) -> str:
    """A CIDv1 (dag-cbor, sha2-256) string for a record.

    A PDS hashes the record's DAG-CBOR encoding; the sandbox hashes canonical JSON instead. The
    result has the real shape (`bafyrei…`) and is stable for equal records, which is what a
    client can observe.
    """
    digest = hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).digest()
    raw = bytes([0x01, 0x71, 0x12, 0x20]) + digest
    return "b" + base64.b32encode(raw).decode().lower().rstrip("=")


def _strong_ref_problem(ref: object, where: str) -> str | None:
    if not isinstance(ref, dict):
        return f"{where} must be an object"
    uri, cid = ref.get("uri"), ref.get("cid")
    if not isinstance(uri, str) or not uri.startswith("at://"):
        return f"{where}/uri must be an at-uri"
    if not isinstance(cid, str) or not cid:
        return f"{where}/cid must be a cid"
    return None


def _facet_problem(facet: object, where: str) -> str | None:
    if not isinstance(facet, dict):
        return f"{where} must be an object"
    index, features = facet.get("index"), facet.get("features")
    if not isinstance(index, dict):
        return f'{where} must have the property "index"'
    start, end = index.get("byteStart"), index.get("byteEnd")
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in (start, end)):
        return f"{where}/index byteStart and byteEnd must be non-negative integers"
    if not isinstance(features, list):
        return f'{where} must have the property "features"'
    for number, feature in enumerate(features):
        kind = feature.get("$type") if isinstance(feature, dict) else None
        if not isinstance(feature, dict) or kind not in _FEATURES:
            continue  # an open union: unknown features are allowed through
        value = feature.get(_FEATURES[kind])
        if not isinstance(value, str) or not value:
            return f'{where}/features/{number} must have the property "{_FEATURES[kind]}"'
        if kind.endswith("#link") and not _URI_SCHEME.fullmatch(value):
            return f"{where}/features/{number}/uri must be a uri"
        if kind.endswith("#mention") and not value.startswith("did:"):
            return f"{where}/features/{number}/did must be a did"
        if kind.endswith("#tag") and (len(value.encode()) > 640 or len(_GRAPHEME.findall(value)) > 64):
            return f"{where}/features/{number}/tag is too long"
    return None


def post_problem(record: dict[str, Any]) -> str | None:
    """Why a PDS would refuse this post record (the InvalidRequest message), or None."""
    prefix = f"Invalid {POST_COLLECTION} record: "
    text = record.get("text")
    if not isinstance(text, str):
        return prefix + 'Record must have the property "text"'
    graphemes = len(_GRAPHEME.findall(text))
    if graphemes > _MAX_GRAPHEMES:
        return prefix + f"grapheme too big (maximum {_MAX_GRAPHEMES}, got {graphemes})"
    size = len(text.encode())
    if size > _MAX_BYTES:
        return prefix + f"string too big (maximum {_MAX_BYTES}, got {size})"
    created = record.get("createdAt")
    if not isinstance(created, str):
        return prefix + 'Record must have the property "createdAt"'
    try:
        datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        return prefix + "Record/createdAt must be an valid atproto datetime"
    facets = record.get("facets")
    if facets is not None:
        if not isinstance(facets, list):
            return prefix + "Record/facets must be an array"
        for number, facet in enumerate(facets):
            if problem := _facet_problem(facet, f"Record/facets/{number}"):
                return prefix + problem
    reply = record.get("reply")
    if reply is not None:
        if not isinstance(reply, dict):
            return prefix + "Record/reply must be an object"
        for part in ("root", "parent"):
            if problem := _strong_ref_problem(reply.get(part), f"Record/reply/{part}"):
                return prefix + problem
    return None
