"""What a PDS checks in an `app.bsky.feed.post` record before writing it (pure functions).

Follows the lexicons `app.bsky.feed.post`, `app.bsky.richtext.facet`,
`com.atproto.repo.strongRef`, `app.bsky.embed.images` (at most 4 images; each `image` a blob
ref `{"$type": "blob", "ref": {"$link"}, "mimeType", "size"}` of `image/*` up to 2,000,000 bytes,
`alt` required, `aspectRatio` optional) and `app.bsky.embed.video` (`video` a `video/mp4` blob up
to 300,000,000 bytes, `alt`, at most 20 `captions` of `lang` and a `text/vtt` `file` ≤ 20,000
bytes) (bluesky-social/atproto, copied in shared/vectors/bluesky),
the atproto "Record Key" and "Data Model" (blob, CID) specifications, and what a real PDS answered
when tried on this machine (design/real-peers.md): `grapheme too big (maximum 300, got 301)` and
`string too big` for the 3000-byte limit, 400 for a bad facet URI, `blob too big (maximum
2000000, got …)` from its lexicon validator.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import datetime
from typing import Any

import regex

__all__ = [
    "MAX_IMAGE_BYTES",
    "POST_COLLECTION",
    "blob_cid",
    "embedded_blobs",
    "post_problem",
    "record_cid",
    "record_key_problem",
]

POST_COLLECTION = "app.bsky.feed.post"
IMAGES_EMBED = "app.bsky.embed.images"
VIDEO_EMBED = "app.bsky.embed.video"
MAX_IMAGE_BYTES = 2_000_000
MAX_VIDEO_BYTES = 300_000_000  # app.bsky.embed.video: "up to 300mb, formerly limited to 100mb"
_MAX_CAPTIONS = 20
_MAX_CAPTION_BYTES = 20_000
# The lexicon's `language` format: a BCP-47 tag (atproto "Lexicon" › string formats), as far as a
# primary language and subtags go.
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*|[ixIX]-[A-Za-z0-9]{1,8}(-[A-Za-z0-9]{1,8})*")
_MAX_IMAGES = 4
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


def blob_cid(data: bytes) -> str:
    """The CIDv1 of a blob as a PDS computes it: raw codec (0x55), sha2-256, base32 (`bafkrei…`)."""
    raw = bytes([0x01, 0x55, 0x12, 0x20]) + hashlib.sha256(data).digest()
    return "b" + base64.b32encode(raw).decode().lower().rstrip("=")


def embedded_blobs(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The blob refs of a record's image or video embed, in order, each with its `alt` ("" when
    absent): the images, or the video then its caption files.

    A PDS checks the blobs a record names even when it skips the lexicon (`validate: false`), so
    this reads any record and keeps only what has a blob ref's shape.
    """
    embed = record.get("embed")
    if not isinstance(embed, dict):
        return []
    holders = embed.get("images")
    key = "image"
    if embed.get("$type") == VIDEO_EMBED:
        captions = embed.get("captions")
        holders = (
            [embed] + [{"video": c.get("file")} for c in captions if isinstance(c, dict)]
            if isinstance(captions, list)
            else [embed]
        )
        key = "video"
    if not isinstance(holders, list):
        return []
    blobs = []
    for holder in holders:
        blob = holder.get(key) if isinstance(holder, dict) else None
        ref = blob.get("ref") if isinstance(blob, dict) else None
        if isinstance(blob, dict) and isinstance(ref, dict) and isinstance(ref.get("$link"), str):
            alt = holder.get("alt")
            blobs.append({**blob, "alt": alt if isinstance(alt, str) else ""})
    return blobs


def _blob_problem(
    blob: object, where: str, *, accept: str = "image/*", max_size: int = MAX_IMAGE_BYTES
) -> str | None:
    if not isinstance(blob, dict) or blob.get("$type") != "blob":
        return f"{where} should be a blob ref"
    ref, mime, size = blob.get("ref"), blob.get("mimeType"), blob.get("size")
    if not isinstance(ref, dict) or not isinstance(ref.get("$link"), str) or not ref["$link"]:
        return f"{where} should be a blob ref"
    if not isinstance(mime, str) or not (mime == accept or mime.startswith(accept.removesuffix("*") or "-")):
        return f"{where}/mimeType must be one of {accept}"
    if not isinstance(size, int) or isinstance(size, bool):
        return f"{where}/size must be an integer"
    if size > max_size:
        return f"{where} blob too big (maximum {max_size}, got {size})"
    return None


def _video_problem(embed: dict[str, Any]) -> str | None:
    """`app.bsky.embed.video`: an MP4 blob, an optional alt text and caption files, an aspect ratio."""
    if "alt" in embed and not isinstance(embed["alt"], str):
        return "Record/embed/alt must be a string"
    captions = embed.get("captions", [])
    if not isinstance(captions, list) or len(captions) > _MAX_CAPTIONS:
        return f"Record/embed/captions must be a list of at most {_MAX_CAPTIONS} captions"
    for number, caption in enumerate(captions):
        where = f"Record/embed/captions/{number}"
        if not isinstance(caption, dict) or not isinstance(caption.get("lang"), str):
            return f'{where} must have the property "lang"'
        if not _LANGUAGE.fullmatch(caption["lang"]):
            return f"{where}/lang must be a well-formed BCP 47 language tag"
        if problem := _blob_problem(
            caption.get("file"), f"{where}/file", accept="text/vtt", max_size=_MAX_CAPTION_BYTES
        ):
            return problem
    return _blob_problem(
        embed.get("video"), "Record/embed/video", accept="video/mp4", max_size=MAX_VIDEO_BYTES
    )


def _image_problem(image: object, where: str) -> str | None:
    if not isinstance(image, dict):
        return f"{where} must be an object"
    if not isinstance(image.get("alt"), str):
        return f'{where} must have the property "alt"'
    ratio = image.get("aspectRatio")
    if ratio is not None and not (
        isinstance(ratio, dict)
        and all(isinstance(ratio.get(side), int) and ratio[side] >= 1 for side in ("width", "height"))
    ):
        return f"{where}/aspectRatio width and height must be integers of at least 1"
    return _blob_problem(image.get("image"), f"{where}/image")


def _embed_problem(embed: object) -> str | None:
    if not isinstance(embed, dict):
        return "Record/embed must be an object"
    if embed.get("$type") == VIDEO_EMBED:
        return _video_problem(embed)
    if embed.get("$type") != IMAGES_EMBED:
        return None  # an open union: the sandbox checks image and video embeds only
    images = embed.get("images")
    if not isinstance(images, list):
        return 'Record/embed must have the property "images"'
    if len(images) > _MAX_IMAGES:
        return f"Record/embed/images must not have more than {_MAX_IMAGES} elements"
    for number, image in enumerate(images):
        if problem := _image_problem(image, f"Record/embed/images/{number}"):
            return problem
    return None


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
    if "embed" in record and (problem := _embed_problem(record["embed"])):
        return prefix + problem
    reply = record.get("reply")
    if reply is not None:
        if not isinstance(reply, dict):
            return prefix + "Record/reply must be an object"
        for part in ("root", "parent"):
            if problem := _strong_ref_problem(reply.get(part), f"Record/reply/{part}"):
                return prefix + problem
    return None
