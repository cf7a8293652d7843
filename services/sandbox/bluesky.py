"""Bluesky (atproto XRPC) emulator: sessions, `uploadBlob`, `createRecord`, `getRecord`, `listRecords`.

Follows these documentation sections:
- docs.bsky.app › HTTP reference › `com.atproto.server.createSession` (identifier and password →
  `accessJwt`, `refreshJwt`, `handle`, `did`; a wrong password is 401 `AuthenticationRequired`
  "Invalid identifier or password") and `com.atproto.server.refreshSession` (bearer refreshJwt).
- docs.bsky.app › HTTP reference › `com.atproto.repo.createRecord` (`repo`, `collection`, `rkey`,
  `validate`, `record` → `uri`, `cid`), `getRecord` and `listRecords`.
- docs.bsky.app › HTTP reference › `com.atproto.repo.uploadBlob` (requires auth; the raw bytes as
  the body with their Content-Type → `{"blob": {"$type": "blob", "ref": {"$link": cid},
  "mimeType", "size"}}`; "blob restrictions are enforced when the reference is created") and
  atproto.com › Guides › "Images and Video". As the reference PDS does: the cid is the CIDv1
  (raw, sha2-256) of the bytes, the MIME type is sniffed from the bytes when it can be, a body
  over the upload limit (5 MiB) is 413 `PayloadTooLarge` "request entity too large", uploads
  cost 1 of 1,000 points a day per account, and `createRecord` refuses a record whose embed
  names a blob this account did not upload with 400 `BlobNotFound` "Could not find blob: <cid>"
  (and a ref whose mimeType or size differ with `InvalidMimeType` / `InvalidSize`), even with
  `validate: false`.
- atproto.com › Specs › XRPC: errors are `{"error", "message"}`; a bad bearer token is **400**
  `InvalidToken` and an expired one 400 `ExpiredToken` (what a real PDS answers, design/real-peers.md).
- docs.bsky.app › Advanced guides › "Rate limits": `ratelimit-limit`, `ratelimit-remaining`,
  `ratelimit-reset` (Unix seconds) and `ratelimit-policy` headers; content writes cost 3 points of
  5,000 per hour per account; `createSession` allows 30 per 5 minutes per account.
- atproto.com › Specs › Record Key; a `createRecord` whose `rkey` already exists is refused, so a
  client that fixes the rkey makes creation idempotent. `validate: false` is accepted (as a PDS
  does) and kept in the stored body, so tests can prove our adapter never sends it.

- docs.bsky.app › "Uploading video" and the lexicons `com.atproto.server.getServiceAuth` (`aud`,
  `lxm`, `exp` → `{"token"}`, a short-lived JWT for another service), `app.bsky.video.uploadVideo`
  (the raw MP4 as the body, `did` and `name` in the query, the service token as bearer; its `aud`
  must be the PDS's `did:web` and its `lxm` `com.atproto.repo.uploadBlob` → `{"jobStatus"}`) and
  `app.bsky.video.getJobStatus` (`jobId` → `{"jobStatus": {"jobId", "did", "state", "progress",
  "blob", "error", "message"}}`; `JOB_STATE_COMPLETED` carries the blob the post embeds,
  `JOB_STATE_FAILED` the error; any other state is in progress). The video service is
  video.bsky.app on the network; here it shares the PDS's host. Processing is `processing.py`'s.
  Records embed it with `app.bsky.embed.video` (checked in bluesky_records.py).

- docs.bsky.app › HTTP reference › `app.bsky.notification.listNotifications` (auth; `limit` 1–100,
  default 50; `cursor`; `reasons[]` to keep some reasons only → `{"cursor"?, "notifications",
  "priority", "seenAt"?}`, newest first; each notification `uri`, `cid`, `author` (a profile view),
  `reason` (`mention`, `reply`, `like`…), `record` (the `app.bsky.feed.post` with its `reply.root` and
  `reply.parent` strong refs), `isRead`, `indexedAt`, `labels`). The cursor pages back in time: it is
  the last notification's `indexedAt`, and the next page holds the older ones; a cursor that is no
  time is 400 `InvalidRequest` "Malformed cursor", as the AppView answers. There is no "newer than"
  parameter: a reader reads from the top until it meets what it has seen. Read calls have their own
  limit (3,000 per 5 minutes here), not the posting points. The items are the incoming traffic the
  sandbox generates (`incoming.py`: `reply` when it answers a status, `mention` otherwise); faults
  armed with `on: read_comments` apply here, and nowhere else.

- docs.bsky.app › HTTP reference › `app.bsky.feed.getPostThread` (`uri`, `depth` default 6,
  `parentHeight` → `{"thread": threadViewPost}` with `post` (`uri`, `cid`, `author`, `record`,
  `indexedAt`) and `replies`; an unknown post is 400 `NotFound` "Post not found: <uri>"), for the
  account's posts and the ones people sent it. A post's `reply` (`root`, `parent` strong refs)
  must name posts the network has, with their cids: the sandbox refuses any other with 400
  `InvalidRequest` "Could not locate record: <uri>" (a real PDS would store the orphan and the
  AppView show it under a deleted post; refusing it lets tests see a wrong ref).

- docs.bsky.app › HTTP reference › `app.bsky.feed.getPosts` (auth; `uris`, 1–25 AT-URIs →
  `{"posts": [postView]}`; a post the AppView does not have is left out, never an error; more than
  25 is 400 `InvalidRequest`). Lexicon `app.bsky.feed.defs#postView`: `replyCount`, `repostCount`,
  `likeCount`, `quoteCount` are the post's figures set by `/_sandbox/engagement` (its shares are
  all reposts; Bluesky counts no views). Read calls' limit; faults armed with `on:
  read_engagement` apply here alone.

Sandbox accounts: identifier `<account>` or a handle `<account>.<domain>`, password
`sbx-bluesky-<account>` (or `sbx-bluesky-<handle>`); the did is `did:plc:` plus a hash of the
account. A bearer token `sbx-bluesky-<account>` is accepted as an access token too, and
`sbx-expired-…` is an expired one.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
from aiohttp import web

from shared.images import image_type

from .bluesky_records import (
    POST_COLLECTION,
    blob_cid,
    embedded_blobs,
    post_problem,
    record_cid,
    record_key_problem,
)
from .common import MINT, RATES, RateState, bearer_token, check_token, iso_millis, read_params
from .engagement import figures_of
from .faults import read_fault
from .posting import BEFORE_CREATE_MODES, Posting
from .processing import VIDEO_JOBS
from .routes import add_api, route
from .store import STORE, IncomingItem, Post, Store

__all__ = ["BlueskyApi", "add_routes", "did_for", "incoming_ids"]

_NETWORK = "bluesky"
# Sandbox tokens guard nothing: a fixed signing key keeps sessions valid across restarts.
_SIGNING_KEY = "relais-sandbox-tokens-guard-nothing"
_ACCESS_SECONDS = 2 * 3600
_REFRESH_SECONDS = 90 * 24 * 3600
_WRITE_POINTS = (5000, 3600)
_CREATE_COST = 3
_SESSION_LIMIT = (30, 5 * 60)
_BLOB_LIMIT = (1000, 24 * 3600)
_UPLOAD_LIMIT = 5 * 1024 * 1024  # the reference PDS's default blobUploadLimit
_SERVICE_SECONDS = 60  # getServiceAuth's default lifetime
_VIDEO_LXM = "com.atproto.repo.uploadBlob"
_READ_LIMIT = (3000, 5 * 60)
_GET_POSTS_MAX = 25  # uris per app.bsky.feed.getPosts call
_NOTIFICATIONS_DEFAULT, _NOTIFICATIONS_MAX = 50, 100


def did_for(account: str) -> str:
    """The sandbox did of an account: `did:plc:` and 24 base32 characters, like a real one."""
    digest = hashlib.sha256(f"sbx:{account}".encode()).digest()
    return "did:plc:" + base64.b32encode(digest).decode().lower()[:24]


def incoming_ids(app: web.Application, author: str) -> tuple[str, str]:
    """A notification id (milliseconds, one more than the last: its `indexedAt`, never shared) and
    the at:// URI of the author's new post."""
    mint = app[MINT]
    return str(
        mint.next_id("bluesky-notification", shift=0)
    ), f"at://{did_for(author)}/{POST_COLLECTION}/{mint.tid()}"


def _indexed_at(item: IncomingItem) -> str:
    return iso_millis(datetime.fromtimestamp(int(item.notification_id) / 1000, UTC))


def _sniffed(data: bytes, declared: str) -> str:
    """The MIME type read from the bytes (as a PDS does), else the one the client declared."""
    return image_type(data) or declared or "application/octet-stream"


def _blob_id(account: str, cid: str) -> str:
    """The store's id of a blob: a PDS keeps blobs per account, so two may upload the same bytes."""
    return f"{account}/{cid}"


def _account_of(identifier: str) -> str:
    return identifier.removeprefix("@").split(".", 1)[0]


@dataclass(frozen=True)
class _Identity:
    account: str
    handle: str

    @property
    def did(self) -> str:
        return did_for(self.account)


class BlueskyApi:
    """The Bluesky emulator's handlers; also its fault dialect."""

    rate_limit = _WRITE_POINTS

    def __init__(self) -> None:
        self._video_jobs: dict[str, tuple[str, dict[str, Any]]] = {}  # job id → (did, its blob)

    @staticmethod
    def _headers(state: RateState) -> dict[str, str]:
        return {
            "ratelimit-limit": str(state.limit),
            "ratelimit-remaining": str(state.remaining),
            "ratelimit-reset": str(int(state.reset_at)),
            "ratelimit-policy": f"{state.limit};w={state.window}",
        }

    def _respond(self, body: dict[str, Any], status: int, state: RateState | None = None) -> web.Response:
        headers = self._headers(state) if state is not None else {}
        return web.json_response(body, status=status, headers=headers)

    def _error(self, status: int, error: str, message: str, state: RateState | None = None) -> web.Response:
        return self._respond({"error": error, "message": message}, status, state)

    # Dialect: how a PDS answers each fault mode.
    def server_error(self) -> web.Response:
        return self._error(500, "InternalServerError", "Internal Server Error")

    def rate_limited(self, state: RateState) -> web.Response:
        return self._error(429, "RateLimitExceeded", "Rate Limit Exceeded", state)

    def expired_token(self) -> web.Response:
        return self._error(400, "ExpiredToken", "Token has expired")

    def blocked(self) -> web.Response:
        return self._error(401, "AccountTakedown", "Account has been taken down")

    def invalid_content(self) -> web.Response:
        message = f"Invalid {POST_COLLECTION} record: grapheme too big (maximum 300, got 301)"
        return self._error(400, "InvalidRequest", message)

    def _session(self, identity: _Identity) -> dict[str, Any]:
        now = int(time.time())
        common = {"sub": identity.did, "iat": now, "sbx_account": identity.account, "handle": identity.handle}
        access = {**common, "scope": "com.atproto.access", "exp": now + _ACCESS_SECONDS}
        refresh = {
            **common,
            "scope": "com.atproto.refresh",
            "exp": now + _REFRESH_SECONDS,
            "jti": secrets.token_hex(8),
        }
        return {
            "accessJwt": jwt.encode(access, _SIGNING_KEY, algorithm="HS256"),
            "refreshJwt": jwt.encode(refresh, _SIGNING_KEY, algorithm="HS256"),
            "handle": identity.handle,
            "did": identity.did,
            "active": True,
        }

    def _identity(self, request: web.Request, *, scope: str) -> _Identity | web.Response:
        token = bearer_token(request)
        if token is None:
            return self._error(401, "AuthenticationRequired", "Authentication Required")
        caller = check_token(token, _NETWORK)
        if caller.account is not None:
            return _Identity(caller.account, f"{caller.account}.bsky.social")
        if caller.problem == "expired":
            return self.expired_token()
        try:
            claims = jwt.decode(token, _SIGNING_KEY, algorithms=["HS256"])
        except jwt.ExpiredSignatureError:
            return self.expired_token()
        except jwt.InvalidTokenError:
            return self._error(400, "InvalidToken", "Token could not be verified")
        if claims.get("scope") != scope:
            return self._error(400, "InvalidToken", "Bad token scope")
        return _Identity(str(claims["sbx_account"]), str(claims["handle"]))

    @route("POST", "/xrpc/com.atproto.server.createSession")
    async def create_session(self, request: web.Request) -> web.Response:
        params = await read_params(request)
        identifier = params.get("identifier") if params else None
        password = params.get("password") if params else None
        if not isinstance(identifier, str) or not isinstance(password, str):
            return self._error(
                400, "InvalidRequest", 'Input must have the properties "identifier" and "password"'
            )
        account = _account_of(identifier)
        limit, window = _SESSION_LIMIT
        state = request.app[RATES].hit(f"bluesky:{account}:session", limit=limit, window=window)
        if state.exceeded:
            return self.rate_limited(state)
        # The password names the account, or the whole identifier when that is a full handle.
        expected = (f"sbx-bluesky-{account}", f"sbx-bluesky-{identifier.removeprefix('@')}")
        if not any(secrets.compare_digest(password, candidate) for candidate in expected):
            return self._error(401, "AuthenticationRequired", "Invalid identifier or password", state)
        handle = identifier.removeprefix("@") if "." in identifier else f"{account}.bsky.social"
        return self._respond(self._session(_Identity(account, handle)), 200, state)

    @route("POST", "/xrpc/com.atproto.server.refreshSession")
    async def refresh_session(self, request: web.Request) -> web.Response:
        identity = self._identity(request, scope="com.atproto.refresh")
        if isinstance(identity, web.Response):
            return identity
        return self._respond(self._session(identity), 200)

    @route("POST", "/xrpc/com.atproto.repo.uploadBlob")
    async def upload_blob(self, request: web.Request) -> web.Response:
        identity = self._identity(request, scope="com.atproto.access")
        if isinstance(identity, web.Response):
            return identity
        posting = await Posting.start(request, self, _NETWORK, identity.account)
        if isinstance(posting, web.Response):
            return posting
        state, throttled = posting.window(f"{identity.account}:blob", _BLOB_LIMIT)
        if throttled is not None:
            return throttled
        data, size = bytearray(), 0
        # Read the stream itself: the body may exceed aiohttp's default request size.
        async for chunk in request.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size <= _UPLOAD_LIMIT:
                data += chunk
        if size > _UPLOAD_LIMIT:
            return self._error(413, "PayloadTooLarge", "request entity too large", state)
        if not data:
            return self._error(400, "InvalidRequest", "Request body is empty", state)
        cid, content = blob_cid(bytes(data)), bytes(data)
        mime = _sniffed(content, request.headers.get("Content-Type", "").split(";")[0].strip())
        posting.add_media(media_id=_blob_id(identity.account, cid), data=content, content_type=mime)
        await posting.created()
        blob = {"$type": "blob", "ref": {"$link": cid}, "mimeType": mime, "size": len(content)}
        return self._respond({"blob": blob}, 200, state)

    @route("GET", "/xrpc/com.atproto.server.getServiceAuth")
    async def service_auth(self, request: web.Request) -> web.Response:
        """`com.atproto.server.getServiceAuth`: a token the account hands to another service."""
        identity = self._identity(request, scope="com.atproto.access")
        if isinstance(identity, web.Response):
            return identity
        aud, lxm = request.query.get("aud", ""), request.query.get("lxm", "")
        if not aud.startswith("did:"):
            return self._error(400, "InvalidRequest", "aud must be a DID")
        now = int(time.time())
        exp = request.query.get("exp", "")
        expires = int(exp) if exp.isdigit() else now + _SERVICE_SECONDS
        if not now < expires <= now + 3600:
            return self._error(400, "BadExpiration", "expiration must be within the next hour")
        claims = {
            "iss": identity.did,
            "aud": aud,
            "lxm": lxm,
            "exp": expires,
            "sbx_account": identity.account,
        }
        claims |= {"scope": "service", "handle": identity.handle, "jti": secrets.token_hex(8)}
        return self._respond({"token": jwt.encode(claims, _SIGNING_KEY, algorithm="HS256")}, 200)

    def _service_caller(self, request: web.Request) -> _Identity | web.Response:
        """The account a service token names, if it was made for this video service's upload."""
        token = bearer_token(request) or ""
        try:
            claims = jwt.decode(token, _SIGNING_KEY, algorithms=["HS256"], options={"verify_aud": False})
        except jwt.ExpiredSignatureError:
            return self._error(401, "ExpiredToken", "Token has expired")
        except jwt.InvalidTokenError:
            return self._error(401, "AuthenticationRequired", "Service token could not be verified")
        pds = f"did:web:{request.url.host}"
        if claims.get("scope") != "service" or claims.get("aud") != pds or claims.get("lxm") != _VIDEO_LXM:
            message = f"Service token must have aud {pds} and lxm {_VIDEO_LXM}"
            return self._error(401, "AuthenticationRequired", message)
        if request.query.get("did") != claims.get("iss"):
            return self._error(400, "InvalidRequest", "did must be the token's issuer")
        return _Identity(str(claims["sbx_account"]), str(claims["handle"]))

    @route("POST", "/xrpc/app.bsky.video.uploadVideo")
    async def upload_video(self, request: web.Request) -> web.Response:
        """`app.bsky.video.uploadVideo` on the video service: start processing the MP4."""
        identity = self._service_caller(request)
        if isinstance(identity, web.Response):
            return identity
        posting = await Posting.start(request, self, _NETWORK, identity.account, modes=BEFORE_CREATE_MODES)
        if isinstance(posting, web.Response):
            return posting
        data = b"".join([chunk async for chunk in request.content.iter_chunked(64 * 1024)])
        if not data:
            return self._error(400, "InvalidRequest", "Request body is empty")
        cid = blob_cid(data)
        posting.add_media(media_id=_blob_id(identity.account, cid), data=data, content_type="video/mp4")
        job_id = secrets.token_hex(8)
        blob = {"$type": "blob", "ref": {"$link": cid}, "mimeType": "video/mp4", "size": len(data)}
        self._video_jobs[job_id] = (identity.did, blob)
        request.app[VIDEO_JOBS].start(f"{_NETWORK}:{job_id}", data)
        return self._respond({"jobStatus": self._job_status(request, job_id)}, 200)

    def _job_status(self, request: web.Request, job_id: str) -> dict[str, Any]:
        did, blob = self._video_jobs[job_id]
        jobs, key = request.app[VIDEO_JOBS], f"{_NETWORK}:{job_id}"
        state = jobs.state(key)
        status: dict[str, Any] = {"jobId": job_id, "did": did}
        if state == "ready":
            return status | {"state": "JOB_STATE_COMPLETED", "progress": 100, "blob": blob}
        if state == "failed":
            return status | {
                "state": "JOB_STATE_FAILED",
                "error": "ProcessingFailed",
                "message": jobs.failure(key),
            }
        return status | {"state": "JOB_STATE_ENCODING", "progress": 50}

    @route("GET", "/xrpc/app.bsky.video.getJobStatus")
    async def job_status(self, request: web.Request) -> web.Response:
        """`app.bsky.video.getJobStatus`: where processing stands; the blob once completed."""
        job_id = request.query.get("jobId", "")
        if job_id not in self._video_jobs:
            return self._error(404, "NotFound", f"Job {job_id} not found")
        return self._respond({"jobStatus": self._job_status(request, job_id)}, 200)

    @staticmethod
    def _attached(
        store: Store, account: str, record: dict[str, Any]
    ) -> list[dict[str, Any]] | tuple[str, str]:
        """What the record's embed attaches, as the inspection API shows it; or the PDS's refusal."""
        attached = []
        for blob in embedded_blobs(record):
            cid = blob["ref"]["$link"]
            found = store.attachable(_NETWORK, account, [_blob_id(account, cid)])
            if not found:
                return "BlobNotFound", f"Could not find blob: {cid}"
            item, expected = found[0], "Referenced {} does not match stored blob. Expected: {}, Got: {}"
            if item.content_type != blob.get("mimeType"):
                return "InvalidMimeType", expected.format("Mimetype", item.content_type, blob.get("mimeType"))
            if item.size != blob.get("size"):
                return "InvalidSize", expected.format("Size", item.size, blob.get("size"))
            store.set_media_alt(_NETWORK, item.id, blob["alt"])
            attached.append({**item.public(), "id": cid, "alt": blob["alt"]})
        return attached

    @route("POST", "/xrpc/com.atproto.repo.createRecord")
    async def create_record(self, request: web.Request) -> web.Response:
        identity = self._identity(request, scope="com.atproto.access")
        if isinstance(identity, web.Response):
            return identity
        posting = await Posting.start(request, self, _NETWORK, identity.account)
        if isinstance(posting, web.Response):
            return posting
        state, throttled = posting.window(f"{identity.account}:write", _WRITE_POINTS, cost=_CREATE_COST)
        if throttled is not None:
            return throttled
        params = await read_params(request)
        if not params:
            return self._error(400, "InvalidRequest", "Request body must be a JSON object", state)
        repo, collection, record = params.get("repo"), params.get("collection"), params.get("record")
        if repo not in (identity.did, identity.handle):
            return self._error(401, "AuthenticationRequired", "Authentication Required", state)
        if collection != POST_COLLECTION:
            return self._error(
                400, "InvalidRequest", f"The sandbox only stores {POST_COLLECTION} records", state
            )
        if not isinstance(record, dict):
            return self._error(400, "InvalidRequest", 'Input must have the property "record"', state)
        record = {**record, "$type": record.get("$type", POST_COLLECTION)}
        validate = params.get("validate")
        if validate is not False:
            if record["$type"] != POST_COLLECTION:
                return self._error(400, "InvalidRequest", "Invalid $type: must match the collection", state)
            if problem := post_problem(record):
                return self._error(400, "InvalidRequest", problem, state)
        rkey = params.get("rkey")
        mint = request.app[MINT]
        if rkey is not None and (not isinstance(rkey, str) or record_key_problem(rkey)):
            return self._error(400, "InvalidRequest", f"Invalid record key: {rkey!r}", state)
        uri = f"at://{identity.did}/{collection}/{rkey or mint.tid()}"
        store = request.app[STORE]
        if store.by_remote_id(_NETWORK, uri) is not None:
            return self._error(400, "InvalidRequest", f"Record already exists: {uri}", state)
        media = self._attached(store, identity.account, record)
        if isinstance(media, tuple):
            return self._error(400, *media, state)
        reply = record.get("reply")
        if isinstance(reply, dict) and (problem := self._unknown_ref(store, reply)) is not None:
            return self._error(400, "InvalidRequest", problem, state)
        cid = record_cid(record)
        parent = reply.get("parent") if isinstance(reply, dict) else None
        posting.add(
            remote_id=uri,
            text=str(record.get("text", "")),
            body=params,
            idempotency_key=rkey,
            reply_to=parent.get("uri") if isinstance(parent, dict) else None,
            meta={"cid": cid, "record": record, "did": identity.did, "media": media},
        )
        await posting.created()
        body = {
            "uri": uri,
            "cid": cid,
            "commit": {"cid": record_cid({"commit": uri, "at": time.time()}), "rev": mint.tid()},
            "validationStatus": "unknown" if validate is False else "valid",
        }
        return self._respond(body, 200, state)

    @staticmethod
    def _repo_did(repo: str) -> str:
        return repo if repo.startswith("did:") else did_for(_account_of(repo))

    @staticmethod
    def _record_view(post: Post) -> dict[str, Any]:
        return {"uri": post.remote_id, "cid": post.meta.get("cid"), "value": post.meta.get("record")}

    @route("GET", "/xrpc/com.atproto.repo.getRecord")
    async def get_record(self, request: web.Request) -> web.Response:
        query = request.query
        if not all(query.get(name) for name in ("repo", "collection", "rkey")):
            return self._error(
                400, "InvalidRequest", 'Params must have the properties "repo", "collection", "rkey"'
            )
        uri = f"at://{self._repo_did(query['repo'])}/{query['collection']}/{query['rkey']}"
        post = request.app[STORE].by_remote_id(_NETWORK, uri)
        if post is None:
            return self._error(400, "RecordNotFound", f"Could not locate record: {uri}")
        return self._respond(self._record_view(post), 200)

    @route("GET", "/xrpc/com.atproto.repo.listRecords")
    async def list_records(self, request: web.Request) -> web.Response:
        query = request.query
        if not query.get("repo") or not query.get("collection"):
            return self._error(400, "InvalidRequest", 'Params must have the properties "repo", "collection"')
        try:
            limit = min(max(int(query.get("limit", "50")), 1), 100)
        except ValueError:
            return self._error(400, "InvalidRequest", "limit must be an integer")
        prefix = f"at://{self._repo_did(query['repo'])}/{query['collection']}/"
        posts = [
            post for post in request.app[STORE].posts(network=_NETWORK) if post.remote_id.startswith(prefix)
        ]
        # Newest first unless `reverse`, as the lexicon describes.
        if query.get("reverse") not in ("true", "1"):
            posts.reverse()
        return self._respond({"records": [self._record_view(post) for post in posts[:limit]]}, 200)

    def _strong_ref(self, store: Store, uri: str) -> dict[str, str]:
        post = store.by_remote_id(_NETWORK, uri)
        cid = post.meta.get("cid") if post is not None else None
        return {"uri": uri, "cid": str(cid or record_cid({"uri": uri}))}

    def _unknown_ref(self, store: Store, reply: dict[str, Any]) -> str | None:
        """Why a reply's `root` or `parent` names no post the network has with that cid, if it does
        not (the sandbox refuses it rather than store an orphan reply: see the module's docstring)."""
        for part in ("root", "parent"):
            ref = reply[part]
            known = store.by_remote_id(_NETWORK, ref["uri"]) or store.incoming_item(_NETWORK, ref["uri"])
            if known is None:
                return f"Could not locate record: {ref['uri']}"
            if self._strong_ref(store, ref["uri"])["cid"] != ref["cid"]:
                return f"Record/reply/{part}/cid does not match the record at {ref['uri']}"
        return None

    def _post_view(self, store: Store, uri: str) -> dict[str, Any] | None:
        """`app.bsky.feed.defs#postView` of a post the network has (the account's or people's)."""
        post = store.by_remote_id(_NETWORK, uri)
        if post is not None:
            did = str(post.meta.get("did") or "")
            account = post.account
            record, indexed = post.meta.get("record") or {}, post.received_at
        elif (item := store.incoming_item(_NETWORK, uri)) is not None:
            did, account = did_for(item.author), f"{item.author}.citoyens.example"
            record, indexed = self._notification(store, item)["record"], _indexed_at(item)
        else:
            return None
        handle = account if "." in account else f"{account}.bsky.social"
        figures = figures_of(post) if post is not None else {"likes": 0, "shares": 0, "replies": 0}
        return {
            "uri": uri,
            "cid": self._strong_ref(store, uri)["cid"],
            "author": {"did": did, "handle": handle},
            "record": record,
            "replyCount": figures["replies"],
            "repostCount": figures["shares"],
            "likeCount": figures["likes"],
            "quoteCount": 0,
            "indexedAt": indexed,
        }

    def _thread_view(self, store: Store, account: str, uri: str, depth: int) -> dict[str, Any] | None:
        view = self._post_view(store, uri)
        if view is None:
            return None
        node: dict[str, Any] = {"$type": "app.bsky.feed.defs#threadViewPost", "post": view}
        if depth > 0:
            below = [p.remote_id for p in store.posts(network=_NETWORK) if p.reply_to == uri]
            below += [i.item_id for i in store.incoming(_NETWORK, account) if i.reply_to == uri]
            node["replies"] = [
                child
                for answer in dict.fromkeys(below)
                if (child := self._thread_view(store, account, answer, depth - 1)) is not None
            ]
        return node

    @route("GET", "/xrpc/app.bsky.feed.getPostThread")
    async def post_thread(self, request: web.Request) -> web.Response:
        identity = self._identity(request, scope="com.atproto.access")
        if isinstance(identity, web.Response):
            return identity
        uri = request.query.get("uri")
        if not uri:
            return self._error(400, "InvalidRequest", 'Params must have the property "uri"')
        try:
            depth = min(max(int(request.query.get("depth", "6")), 0), 1000)
        except ValueError:
            return self._error(400, "InvalidRequest", "depth must be an integer")
        thread = self._thread_view(request.app[STORE], identity.account, uri, depth)
        if thread is None:
            return self._error(400, "NotFound", f"Post not found: {uri}")
        return self._respond({"thread": thread}, 200)

    @route("GET", "/xrpc/app.bsky.feed.getPosts")
    async def get_posts(self, request: web.Request) -> web.Response:
        identity = self._identity(request, scope="com.atproto.access")
        if isinstance(identity, web.Response):
            return identity
        replaced = await read_fault(request, self, _NETWORK, identity.account, on="read_engagement")
        if replaced is not None:
            return replaced
        state = request.app[RATES].hit(
            f"bluesky:{identity.account}:read", limit=_READ_LIMIT[0], window=_READ_LIMIT[1]
        )
        if state.exceeded:
            return self.rate_limited(state)
        uris = request.query.getall("uris", []) + request.query.getall("uris[]", [])
        if not uris:
            return self._error(400, "InvalidRequest", 'Params must have the property "uris"', state)
        if len(uris) > _GET_POSTS_MAX:
            return self._error(
                400, "InvalidRequest", f"uris must not have more than {_GET_POSTS_MAX} elements", state
            )
        store = request.app[STORE]
        posts = [view for uri in dict.fromkeys(uris) if (view := self._post_view(store, uri)) is not None]
        return self._respond({"posts": posts}, 200, state)

    def _thread_root(self, store: Store, uri: str) -> str:
        """The first post of the thread `uri` is in: up through the generated items, then the
        account's own record's `reply.root`."""
        for _ in range(100):
            item = store.incoming_item(_NETWORK, uri)
            if item is None or item.reply_to is None:
                break
            uri = item.reply_to
        post = store.by_remote_id(_NETWORK, uri)
        reply = post.meta.get("record", {}).get("reply") if post is not None else None
        root = reply.get("root") if isinstance(reply, dict) else None
        return str(root["uri"]) if isinstance(root, dict) and isinstance(root.get("uri"), str) else uri

    def _notification(self, store: Store, item: IncomingItem) -> dict[str, Any]:
        handle = f"{item.author}.citoyens.example"
        record: dict[str, Any] = {"$type": POST_COLLECTION, "text": item.text, "createdAt": item.created_at}
        if item.reply_to is not None:
            root = self._thread_root(store, item.reply_to)
            record["reply"] = {
                "root": self._strong_ref(store, root),
                "parent": self._strong_ref(store, item.reply_to),
            }
        return {
            "uri": item.item_id,
            "cid": self._strong_ref(store, item.item_id)["cid"],  # the cid a reply's strong ref names
            "author": {"did": did_for(item.author), "handle": handle, "displayName": item.author},
            "reason": "reply" if item.reply_to is not None else "mention",
            "record": record,
            "isRead": False,
            "indexedAt": _indexed_at(item),
            "labels": [],
        }

    @route("GET", "/xrpc/app.bsky.notification.listNotifications")
    async def list_notifications(self, request: web.Request) -> web.Response:
        identity = self._identity(request, scope="com.atproto.access")
        if isinstance(identity, web.Response):
            return identity
        if (replaced := await read_fault(request, self, _NETWORK, identity.account)) is not None:
            return replaced
        state = request.app[RATES].hit(
            f"bluesky:{identity.account}:read", limit=_READ_LIMIT[0], window=_READ_LIMIT[1]
        )
        if state.exceeded:
            return self.rate_limited(state)
        query = request.query
        try:
            limit = min(max(int(query.get("limit", _NOTIFICATIONS_DEFAULT)), 1), _NOTIFICATIONS_MAX)
        except ValueError:
            return self._error(400, "InvalidRequest", "limit must be an integer", state)
        cursor = query.get("cursor")
        if cursor is not None:
            try:
                datetime.fromisoformat(cursor.replace("Z", "+00:00"))
            except ValueError:
                return self._error(400, "InvalidRequest", "Malformed cursor", state)
        reasons = query.getall("reasons", []) + query.getall("reasons[]", [])
        store = request.app[STORE]
        items = sorted(store.incoming(_NETWORK, identity.account), key=lambda i: int(i.notification_id))
        items.reverse()  # newest first
        listed = [self._notification(store, item) for item in items]
        if reasons:
            listed = [n for n in listed if n["reason"] in reasons]
        if cursor is not None:
            listed = [n for n in listed if n["indexedAt"] < cursor]
        page = listed[:limit]
        body: dict[str, Any] = {"notifications": page, "priority": False}
        if len(listed) > limit:
            body["cursor"] = page[-1]["indexedAt"]
        return self._respond(body, 200, state)


def add_routes(app: web.Application) -> None:
    add_api(app, BlueskyApi())
