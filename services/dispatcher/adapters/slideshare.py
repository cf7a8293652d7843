"""SlideShare adapter: a presentation uploaded with API v2 `upload_slideshow`, then watched until
SlideShare has converted it.

Follows slideshare.net/developers/documentation (API v2): every call carries `api_key`, `ts` (Unix
time, to the second) and `hash` = SHA-1 of the shared secret followed by `ts`; calls acting for a
user add `username` and `password`. "Upload Slideshow" (`POST /api/2/upload_slideshow`, multipart,
`slideshow_title` required, `slideshow_srcfile`, `slideshow_description`, `slideshow_tags`
comma-separated) answers `<SlideShowUploaded><SlideShowID>…`; "Get Slideshow"
(`GET /api/2/get_slideshow?slideshow_id=…`) answers `<Slideshow>` whose `<Status>` is 0 queued,
1 converting, 2 converted, 3 conversion failed; "Get Slideshows By User"
(`get_slideshows_by_user?username_for=…`) lists the account's slideshows (the read-back). Errors
come as `<SlideShareServiceError><Message ID="n">…</Message>`: 0 no API key, 1 failed API
validation, 2 failed user authentication, 3/5 missing or blank title, 4 missing file, 7 invalid
extension, 8 file too big, 99 account exceeded its daily limit, 100 the key's plan does not allow
the call. Whether SlideShare still issues v2 keys to new applications is not verified.

The upload is the post. Once SlideShare has its id, the delivery remembers it (`part_ids`): a
conversion still running when the wait ends is retried later from that id, never uploaded again.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

import aiohttp

from shared.networks.facts import Capability
from shared.networks.slideshare import presentation_tags, presentation_title

from .base import DeliveryError, Media, PageAccount, Publication, RateObserver, UnknownOutcome
from .conversations import Engagement
from .figures import count
from .readback import Seen, parse_time
from .skeleton import Adapter, Outgoing
from .transport import DEFAULT_TIMEOUT, Reply, multipart_body, redact, status_error

__all__ = ["SlideShareAdapter", "api_hash"]

_API = "/api/2"
_QUEUED, _CONVERTING, _CONVERTED, _FAILED = "0", "1", "2", "3"
# Message IDs (API v2 "Error Codes") that say the key or the account's password is wrong.
_AUTH_CODES = frozenset({"0", "1", "2"})
_LIMIT_CODES = frozenset({"99"})
_NOT_FOUND = "9"  # "SlideShow Not Found"


def api_hash(shared_secret: str, ts: str) -> str:
    """The `hash` of a call: SHA-1 of the shared secret then the timestamp (the order matters)."""
    return hashlib.sha1((shared_secret + ts).encode()).hexdigest()  # SHA-1: the API's own signing scheme


@dataclass(frozen=True)
class _Keys:
    api_key: str
    shared_secret: str
    username: str
    password: str

    def signed(self) -> dict[str, str]:
        """The parameters every call carries, signed now."""
        ts = str(int(time.time()))
        return {"api_key": self.api_key, "ts": ts, "hash": api_hash(self.shared_secret, ts)}

    def acting(self) -> dict[str, str]:
        """What a call acting for the user carries besides: only the upload sends the password
        (reads of public slideshows need none, and a query string is more often logged)."""
        return {**self.signed(), "username": self.username, "password": self.password}

    @property
    def secrets(self) -> list[str]:
        return [self.api_key, self.shared_secret, self.password]


def _xml(reply: Reply) -> ET.Element | None:
    """The answer's XML root; None for anything else, and for a body declaring a DTD: SlideShare's
    answers have none, and entities (billion laughs, external ones) are never expanded."""
    declared = reply.body.upper()
    if b"<!DOCTYPE" in declared or b"<!ENTITY" in declared:
        return None
    try:
        return ET.fromstring(reply.body)
    except ET.ParseError:
        return None


def _error(reply: Reply, secrets: Sequence[str]) -> DeliveryError:
    root = _xml(reply)
    message = root.find("Message") if root is not None and root.tag == "SlideShareServiceError" else None
    if message is None:
        said = redact(reply.body[:200].decode("utf-8", "replace").strip() or f"HTTP {reply.status}", secrets)
        return status_error("SlideShare", reply.status, said, str(reply.status), what="the presentation")
    code = message.get("ID") or "unknown"
    said = redact((message.text or "").strip() or f"error {code}", secrets)
    if code in _AUTH_CODES:
        return DeliveryError(
            f"SlideShare refused the page's API key or password ({said}): reconnect the page",
            network_code=code,
            kind="auth",
        )
    if code in _LIMIT_CODES:
        return DeliveryError(
            f"SlideShare limit reached ({said}); uploads resume tomorrow",
            network_code=code,
            kind="transient",
            retry_after=3_600.0,
            throttled=True,
        )
    if reply.status >= 500:
        return status_error("SlideShare", reply.status, said, code, what="the presentation")
    return DeliveryError(f"SlideShare refused the presentation: {said}", network_code=code, kind="permanent")


class SlideShareAdapter(Adapter):
    network = "slideshare"
    label = "SlideShare"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {"publish", "documents", "read_back", "read_engagement"}
    )
    token_noun = "API key"
    single_part = "description"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
        observer: RateObserver | None = None,
        conversion_wait: float = 60.0,
        poll_every: float = 1.0,
    ) -> None:
        super().__init__(session, timeout=timeout, observer=observer)  # no rate headers documented
        self._conversion_wait = conversion_wait
        self._poll_every = poll_every

    def _error(self, reply: Reply, secrets: Sequence[str]) -> DeliveryError:
        return _error(reply, secrets)

    def _keys(self, account: PageAccount) -> _Keys:
        found = {name: account.credentials.get(name) for name in ("api_key", "shared_secret", "password")}
        missing = sorted(name for name, value in found.items() if not value)
        if missing:
            raise DeliveryError(
                f"no SlideShare {', '.join(missing)} stored for this page: connect it",
                network_code=None,
                kind="auth",
            )
        username = account.credentials.get("username") or account.handle
        return _Keys(found["api_key"] or "", found["shared_secret"] or "", username, found["password"] or "")

    def _token(self, account: PageAccount) -> str:
        return self._keys(account).password

    async def _publish(self, account: PageAccount, variant: Outgoing) -> Publication:
        """Upload the one presentation with the single part as description, then wait for it."""
        keys = self._keys(account)
        if variant.done:
            return await self._converted(account, keys, variant.done[0])
        document = next((m for m in variant.media if m.kind == "document" and m.data), None)
        if document is None or document.data is None:
            raise DeliveryError(
                "SlideShare needs a presentation (PDF, PPTX, ODP): this variant has none",
                network_code=None,
                kind="permanent",
            )
        slideshow_id = await self._upload(account, keys, variant, document)
        return await self._converted(account, keys, slideshow_id)

    async def _upload(self, account: PageAccount, keys: _Keys, variant: Outgoing, document: Media) -> str:
        # The title and tags as the rules rendered them; a delivery recorded before the post
        # carried them has none, and gets them from its text as it did then.
        description = variant.parts[0]
        tags = variant.tags if variant.title is not None else presentation_tags(description)
        fields = {
            **keys.acting(),
            "slideshow_title": variant.title or presentation_title(description),
            "slideshow_description": description,
            "slideshow_tags": ",".join(tags),
        }
        assert document.data is not None
        reply = await self._request(
            account,
            "POST",
            f"{account.base_url.rstrip('/')}{_API}/upload_slideshow",
            secrets=keys.secrets,
            check=False,
            multipart=await multipart_body(fields, [("slideshow_srcfile", document, document.data)]),
        )
        root = _xml(reply)
        if root is None or root.tag != "SlideShowUploaded":
            raise _error(reply, keys.secrets)
        slideshow_id = (root.findtext("SlideShowID") or "").strip()
        if not slideshow_id:
            raise UnknownOutcome("SlideShare accepted the upload but did not say its id: check the account")
        return slideshow_id

    async def _converted(self, account: PageAccount, keys: _Keys, slideshow_id: str) -> Publication:
        """Watch the slideshow until SlideShare has converted it (or says it could not)."""
        deadline = time.monotonic() + self._conversion_wait
        while True:
            slideshow = await self._slideshow(account, keys, slideshow_id)
            status = (slideshow.findtext("Status") or "").strip()
            if status == _CONVERTED:
                url = (slideshow.findtext("URL") or "").strip()
                return Publication(slideshow_id, url, (slideshow_id,))
            if status == _FAILED:
                said = (slideshow.findtext("StatusDescription") or "").strip()
                raise DeliveryError(
                    "SlideShare could not convert the presentation"
                    + (f" ({redact(said, keys.secrets)})" if said else "")
                    + ": check the file, then send it again",
                    network_code="conversion_failed",
                    kind="permanent",
                    part_ids=(slideshow_id,),
                )
            if time.monotonic() >= deadline:
                stage = "queued" if status == _QUEUED else "converting" if status == _CONVERTING else status
                raise DeliveryError(
                    f"SlideShare is still converting the presentation ({stage}); checked again later",
                    network_code=f"status_{status or 'missing'}",
                    kind="transient",
                    retry_after=self._conversion_wait,
                    part_ids=(slideshow_id,),
                )
            await asyncio.sleep(self._poll_every)

    async def _slideshow(self, account: PageAccount, keys: _Keys, slideshow_id: str) -> ET.Element:
        return await self._read(account, keys, "get_slideshow", "Slideshow", {"slideshow_id": slideshow_id})

    async def read_engagement(self, account: PageAccount, remote_id: str) -> Engagement:
        """The slideshow's views, favorites and comments ("Get Slideshow" with `detailed=1`);
        SlideShare counts no shares. A slideshow gone (error 9) is a permanent error."""
        keys = self._keys(account)
        params = {"slideshow_id": remote_id, "detailed": "1"}
        try:
            slideshow = await self._read(account, keys, "get_slideshow", "Slideshow", params)
        except DeliveryError as exc:
            if exc.network_code == _NOT_FOUND:
                raise DeliveryError(
                    "SlideShare no longer has this presentation (deleted?)",
                    network_code=_NOT_FOUND,
                    kind="permanent",
                ) from None
            raise
        return Engagement(
            likes=count((slideshow.findtext("NumFavorites") or "").strip()),
            replies=count((slideshow.findtext("NumComments") or "").strip()),
            views=count((slideshow.findtext("NumViews") or "").strip()),
        )

    async def _read(
        self, account: PageAccount, keys: _Keys, method: str, answer: str, params: dict[str, str]
    ) -> ET.Element:
        """One signed read of API `method`, whose answer is the XML element `answer`."""
        reply = await self._request(
            account,
            "GET",
            f"{account.base_url.rstrip('/')}{_API}/{method}",
            secrets=keys.secrets,
            read_only=True,
            check=False,
            params={**keys.signed(), **params},
        )
        root = _xml(reply)
        if root is None or root.tag != answer:
            raise _error(reply, keys.secrets)
        return root

    async def _seen(self, account: PageAccount, token: str, since: float) -> list[Seen]:
        keys = self._keys(account)
        params = {"username_for": keys.username, "limit": "50"}
        root = await self._read(account, keys, "get_slideshows_by_user", "User", params)
        return [
            Seen(
                (slideshow.findtext("ID") or "").strip(),
                slideshow.findtext("Description") or "",
                _created(slideshow.findtext("Created")),
                url=(slideshow.findtext("URL") or "").strip(),
            )
            for slideshow in root.findall("Slideshow")
            # a conversion that failed published nothing people can see
            if (slideshow.findtext("Status") or "").strip() != _FAILED
        ]


def _created(value: str | None) -> float | None:
    """`Created` as SlideShare writes it ("Tue Jun 02 09:08:23 -0500 2009"), or ISO 8601."""
    try:
        return datetime.strptime((value or "").strip(), "%a %b %d %H:%M:%S %z %Y").timestamp()
    except ValueError:
        return parse_time(value)
