"""Typed application keys of the hub's web app."""

from __future__ import annotations

import sqlite_utils
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from services.hub.inbox import Inbox
from services.hub.service import Approver
from shared.bus import BusLink
from shared.login_throttle import LoginThrottle
from shared.networks.options import NetworkOptions
from shared.pages_mirror import PagesMirror

DATABASE = web.AppKey("database", sqlite_utils.Database)
PUBLIC_KEY = web.AppKey("public_key", Ed25519PublicKey)
LINK = web.AppKey("link", BusLink)
APPROVER = web.AppKey("approver", Approver)
MIRROR = web.AppKey("mirror", PagesMirror)
LOGIN_THROTTLE = web.AppKey("login_throttle", LoginThrottle)
NETWORK_OPTIONS = web.AppKey("network_options", NetworkOptions)
INBOX = web.AppKey("inbox", Inbox)
