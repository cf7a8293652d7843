"""Advocates and their personal accounts (issue #16 items 2 and 5): the names every service agrees on.

An **advocate** is an advisor who opted in at her agency's node. From that moment she is known
everywhere but in two places by a pseudonymous id (`new_advocate_id`): the node (which knows its own
advisors) and the hub's link table (which `relais advocates forget USER` erases). The audit, the
bus's subjects, the dispatcher's store and the figures name the pseudonym only.

A connected **personal account** is a page of the federation's registry like any other, owned by its
advocate (`PageRecord.owner`), with the page id `personal_page(advocate, network)`: the dispatcher's
ledger key, shard key, rate limits, `needs_reauth` and engagement reads then cover personal accounts
without a special case. Selectors and campaigns never reach one; only its owner's shares target it.

Its credentials reach the dispatcher sealed (`shared.sealing`, purpose `credentials_purpose`): from
the hub's OAuth callback for X, LinkedIn and Mastodon (`connected`), or from the node for a Bluesky
app password (`app_password`). The sealed value is a JSON object of the adapter's fields.

Bus: `advocacy.<agency>.<advocate>.<event>` on the ADVOCACY stream (`shared.schemas`), and two core
NATS request subjects (not persisted): a node asks the hub for an authorisation URL on
`advocacy_connect.<agency>` (it must be online for it); the dispatcher asks the hub to refresh an
expired token on `advocacy_refresh` (hub side only: the hub alone holds the apps' client secrets
and the refresh tokens).
"""

from __future__ import annotations

import secrets

import msgspec

__all__ = [
    "ACCOUNT_STATUSES",
    "ADVOCATE_PREFIX",
    "CONNECT_SUBJECT",
    "CONSENT_VERSION",
    "REFRESH_SUBJECT",
    "SEALING_BUCKET",
    "SEALING_KEY",
    "ConnectAnswer",
    "ConnectRequest",
    "RefreshAnswer",
    "RefreshRequest",
    "ShareOf",
    "advocacy_subject",
    "connect_subject",
    "credentials_purpose",
    "credentials_ref",
    "is_advocate_id",
    "new_advocate_id",
    "personal_page",
]

ADVOCATE_PREFIX = "adv-"
_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
_ID_LENGTH = 20  # 100 bits: unguessable, and not derived from the person (no hash of a name)

# The consent wording's version: the node records the version and the exact text shown (in the
# advisor's language) with the date. A new wording gets a new version; consents given to an older
# one stay valid and say what was shown.
CONSENT_VERSION = "2026-12"

# The dispatcher's sealing public key, published by the dispatcher at start: nodes seal Bluesky app
# passwords and the hub seals tokens with it. Hub-side write, every node may read (a public key).
SEALING_BUCKET = "sealing"
SEALING_KEY = "dispatcher"

# AdvocateAccountStatus.status: the dispatcher stored working credentials (`connected`), a network
# refused them or they expired beyond refresh (`needs_reauth`, for that advocate's account only), or
# the advisor declined at the network's consent page (`refused`, said by the hub's callback).
ACCOUNT_STATUSES = ("connected", "needs_reauth", "refused")

CONNECT_SUBJECT = "advocacy_connect.*"  # advocacy_connect.<agency>: NATS pins an agency to its own
REFRESH_SUBJECT = "advocacy_refresh"


def new_advocate_id() -> str:
    return ADVOCATE_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(_ID_LENGTH))


def is_advocate_id(value: str) -> bool:
    body = value.removeprefix(ADVOCATE_PREFIX)
    return value.startswith(ADVOCATE_PREFIX) and len(body) == _ID_LENGTH and set(body) <= set(_ALPHABET)


def personal_page(advocate: str, network: str) -> str:
    """The registry's page id of an advocate's account on a network (a slug: `adv-…-x`)."""
    return f"{advocate}-{network}"


def credentials_ref(advocate: str, network: str) -> str:
    """The `credentials_ref` of an advocate's personal page: where the dispatcher keeps its
    credentials, as the federation writes it in the registry."""
    return f"advocate:{advocate}:{network}"


def credentials_purpose(advocate: str, network: str) -> str:
    """What a sealed credential is bound to: one advocate's account on one network."""
    return f"advocate-credentials:{advocate}:{network}"


def advocacy_subject(agency: str, advocate: str, event: str) -> str:
    return f"advocacy.{agency}.{advocate}.{event}"


def connect_subject(agency: str) -> str:
    return f"advocacy_connect.{agency}"


class ShareOf(msgspec.Struct, frozen=True, kw_only=True):
    """What makes a post a share (`PostReceived.share`): the story shared and the advocate sharing
    it. Its targets are that advocate's personal pages; its author is the advocate's pseudonym."""

    story: str
    advocate: str


class ConnectRequest(msgspec.Struct, frozen=True, kw_only=True):
    """Node → hub on `advocacy_connect.<agency>`: where should this advocate consent?"""

    advocate: str
    network: str  # one of shared.advocacy.oauth.OAUTH_NETWORKS
    instance: str | None = None  # Mastodon: the advocate's instance (https://…); None elsewhere
    return_to: str = ""  # the node page the hub's callback page links back to


class ConnectAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """Hub → node: the authorisation URL (the state in it is bound at the hub to this advocate,
    network and PKCE verifier, for a few minutes), or why not (`error`: a code, `message`: words)."""

    authorization_url: str | None = None
    error: str | None = None
    message: str | None = None


class RefreshRequest(msgspec.Struct, frozen=True, kw_only=True):
    """Dispatcher → hub on `advocacy_refresh`: this account's access token expired."""

    advocate: str
    network: str


class RefreshAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """Hub → dispatcher: the new credentials sealed for the dispatcher, or `error` (the network
    refused the refresh, or it gives none): the account then needs the advocate to connect again."""

    sealed_credentials: str | None = None
    expires_at: str | None = None
    error: str | None = None
