"""Typed application keys of intake's web app."""

from __future__ import annotations

import sqlite_utils
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from services.intake.relay import OutboxRelay
from services.intake.settings import Settings
from shared.bus import BusLink
from shared.login_throttle import LoginThrottle

SETTINGS = web.AppKey("settings", Settings)
DATABASE = web.AppKey("database", sqlite_utils.Database)
PUBLIC_KEY = web.AppKey("public_key", Ed25519PublicKey)
RELAY = web.AppKey("relay", OutboxRelay)
LINK = web.AppKey("link", BusLink)
LOGIN_THROTTLE = web.AppKey("login_throttle", LoginThrottle)
