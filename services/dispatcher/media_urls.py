"""Signed, short-lived addresses for `GET /media/{id}`, the one dispatcher route networks reach
without a token (Instagram and Threads download attachments from it themselves).

An address carries `expires` (Unix seconds) and `signature`, the HMAC-SHA256 of `<expires>:<id>`
under a key only the dispatcher holds: it is derived from the secrets key that already guards the
network credentials (`RELAIS_SECRETS_KEY` or its file, which only the dispatcher and the operators'
CLI read), so no other file has to be kept secret, and every dispatcher sharing that key accepts
the addresses the others give. Nobody can guess an address, widen one to another file or extend its
life. `MEDIA_URL_LIFETIME` covers the network's download when it creates the container (seconds,
at most minutes while processing); each attempt at a delivery signs a fresh address, so a retry
after an hour still works.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable
from urllib.parse import quote, urlencode

__all__ = ["MEDIA_URL_LIFETIME", "MediaUrlSigner", "UrlRefusal"]

MEDIA_URL_LIFETIME = 3600  # seconds an address given to a network stays valid
_KEY_LABEL = b"relais media url v1"  # keeps this key apart from any other use of the secrets key
_EXPIRES = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"[0-9a-f]{64}")


class UrlRefusal(Exception):
    """Why an address is refused (the message is safe to show: it says nothing about the file)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class MediaUrlSigner:
    def __init__(
        self,
        key: bytes,
        *,
        lifetime: int = MEDIA_URL_LIFETIME,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = key
        self._lifetime = lifetime
        self._clock = clock

    @classmethod
    def from_secrets_key(
        cls, secrets_key: bytes, *, lifetime: int = MEDIA_URL_LIFETIME, clock: Callable[[], float] = time.time
    ) -> MediaUrlSigner:
        key = hmac.new(secrets_key, _KEY_LABEL, hashlib.sha256).digest()
        return cls(key, lifetime=lifetime, clock=clock)

    def url(self, public_url: str, media_id: str) -> str:
        """The address of `media_id` under `public_url`, valid for the lifetime from now."""
        expires = str(int(self._clock()) + self._lifetime)
        query = urlencode({"expires": expires, "signature": self._sign(media_id, expires)})
        return f"{public_url.rstrip('/')}/media/{quote(media_id, safe='')}?{query}"

    def check(self, media_id: str, expires: str | None, signature: str | None) -> None:
        """Raise `UrlRefusal` unless the address was signed here for this id and is still valid."""
        if not expires or not signature:
            raise UrlRefusal(
                "this media address is not signed: networks get signed addresses from Relais",
                "signature" if expires else "expires",
            )
        if not _EXPIRES.fullmatch(expires) or not _SIGNATURE.fullmatch(signature):
            raise UrlRefusal("this media address is not valid", "signature")
        # Compared in constant time, before anything about the file is looked up.
        if not hmac.compare_digest(self._sign(media_id, expires), signature):
            raise UrlRefusal("this media address is not valid", "signature")
        now = self._clock()
        if int(expires) < now:
            raise UrlRefusal("this media address has expired; Relais signs a new one on retry", "expires")
        if int(expires) > now + self._lifetime + 60:  # signed under a longer lifetime than today's
            raise UrlRefusal("this media address is valid for too long", "expires")

    def _sign(self, media_id: str, expires: str) -> str:
        # `expires` is digits only, so `<expires>:<id>` cannot be read as another pair.
        return hmac.new(self._key, f"{expires}:{media_id}".encode(), hashlib.sha256).hexdigest()
