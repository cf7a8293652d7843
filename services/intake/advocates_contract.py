"""The advocates' routes at the node (issue #16, services/intake/advocates_api.py): their bodies and
answers as types, and their OpenAPI operations (services/intake/openapi.py lists them)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from services.intake.advocates import SHOWN_STATUSES
from shared.advocacy.stories import ADVOCACY_NETWORKS
from shared.api_contract import Answer, Operation
from shared.i18n import LOCALES

__all__ = [
    "ADVOCACY_OPERATIONS",
    "AccountView",
    "AdvocacyView",
    "AuthorizationAnswer",
    "BlueskyIn",
    "ConnectIn",
    "ConsentIn",
]

Network = Annotated[str, msgspec.Meta(extra_json_schema={"enum": list(ADVOCACY_NETWORKS)})]
OAuthNetwork = Annotated[str, msgspec.Meta(extra_json_schema={"enum": ["x", "linkedin", "mastodon"]})]
# An instance's or a PDS's address: https, a host (and port), a path at most; ASCII classes that JSON
# Schema and Python read alike (\s is not the same set in both).
HttpsUrl = Annotated[
    str,
    msgspec.Meta(
        max_length=300, pattern=r"^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~%!$&'()*+,;=:@/-]*)?$"
    ),
]


class ConsentIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """`POST /v1/advocacy/consent`: the language the consent's wording was shown in, and the advisor's
    yes (`accepted` must be true)."""

    language: Literal["fr", "ar", "en"]
    accepted: Literal[True]


class ConsentView(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    version: str  # shared.advocacy.accounts.CONSENT_VERSION when it was given
    given_at: str  # UTC ISO-8601
    language: Annotated[str, msgspec.Meta(extra_json_schema={"enum": list(LOCALES)})]
    text: str  # the exact wording shown, in that language


class AccountView(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    network: Network
    # not_connected; connecting (a Bluesky app password sent, the dispatcher has not said yet); then
    # connected, needs_reauth or refused, as the hub and the dispatcher said
    status: Annotated[str, msgspec.Meta(extra_json_schema={"enum": list(SHOWN_STATUSES)})]
    handle: str | None


class AdvocacyView(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The caller's consent and pseudonym (null while she has not opted in), her four accounts."""

    advocate: str | None
    consent: ConsentView | None
    accounts: list[AccountView]
    link_up: bool  # connecting an account on X, LinkedIn or Mastodon needs the link to the hub
    sealing_ready: bool  # the node holds the dispatcher's key: a Bluesky app password can be sealed


class ConnectIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """`POST /v1/advocacy/accounts/{network}/connect`: Mastodon needs the advocate's instance."""

    instance: HttpsUrl | msgspec.UnsetType = msgspec.UNSET


class AuthorizationAnswer(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    authorization_url: str  # where the browser goes to consent, at the network


class BlueskyIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """`POST /v1/advocacy/accounts/bluesky`: the account and an app password made for Relais."""

    # a handle (name.bsky.social), an e-mail address or a DID: ASCII, one class that JSON Schema and
    # Python read alike (\S does not: Python counts \x1f as white space)
    identifier: Annotated[str, msgspec.Meta(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9._:@+-]+$")]
    app_password: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    pds: HttpsUrl | msgspec.UnsetType = msgspec.UNSET  # the account's server, when not bsky.social


_MALFORMED = Answer("malformed body: invalid_json, invalid_body, missing_field, unknown_field, invalid_type")
_NOT_HERE = Answer(
    "forbidden: not an advisor of this agency (another agency's, or another role: a consent is the"
    " person's own), or a session's request without its X-CSRF-Token (csrf)"
)
_NOT_ADVOCATE = Answer("not_an_advocate: the caller has not opted in (or withdrew her consent)")
_ACCOUNT = Answer("the account's state", AccountView)
_NETWORK = {"network": Network}

ADVOCACY_OPERATIONS = [
    Operation(
        "GET",
        "/v1/advocacy/me",
        "The caller's advocacy: her consent (version, date, language, wording), pseudonym and accounts",
        {200: Answer("works offline", AdvocacyView), 403: _NOT_HERE},
    ),
    Operation(
        "POST",
        "/v1/advocacy/consent",
        "Opt in: the consent recorded with its date, version, language and the exact wording shown",
        {
            200: Answer("she had opted in already: nothing changed, the same pseudonym", AdvocacyView),
            201: Answer(
                "recorded at the node (offline too); the hub hears of it when the link allows", AdvocacyView
            ),
            400: _MALFORMED,
            403: _NOT_HERE,
            422: Answer("consent_not_given (accepted is not true), invalid_value (language)"),
        },
        body=ConsentIn,
    ),
    Operation(
        "DELETE",
        "/v1/advocacy/consent",
        "Opt out: the withdrawal recorded with its date; every account disconnected, nothing more shared",
        {200: Answer("withdrawn (or there was nothing to withdraw)", AdvocacyView), 403: _NOT_HERE},
    ),
    Operation(
        "POST",
        "/v1/advocacy/accounts/{network}/connect",
        "Start connecting a personal account on X, LinkedIn or Mastodon: the network's consent page",
        {
            200: Answer("send the browser there", AuthorizationAnswer),
            400: _MALFORMED,
            403: _NOT_HERE,
            404: Answer("not_found: no such network for advocacy (field network)"),
            409: _NOT_ADVOCATE,
            422: Answer(
                "app_password_network (Bluesky: POST /v1/advocacy/accounts/bluesky), instance_required"
                " (Mastodon's, https://), instance_not_taken (another network), invalid_value, or the"
                " hub's refusal (its code)"
            ),
            503: Answer("link_down or hub_unavailable: connecting needs the link to the centre"),
        },
        body=ConnectIn,
        body_required=False,
        path_params={"network": OAuthNetwork},
    ),
    Operation(
        "POST",
        "/v1/advocacy/accounts/bluesky",
        "Connect a Bluesky account with an app password, sealed at once for the dispatcher alone",
        {
            202: Answer(
                "sealed and queued (offline too); connected once the dispatcher says so", AccountView
            ),
            400: _MALFORMED,
            403: _NOT_HERE,
            409: _NOT_ADVOCATE,
            422: Answer("invalid_value (identifier, app_password, pds)"),
            503: Answer("no_sealing_key: the node has not received the dispatcher's key yet"),
        },
        body=BlueskyIn,
    ),
    Operation(
        "DELETE",
        "/v1/advocacy/accounts/{network}",
        "Disconnect a personal account: its credentials are deleted and nothing more goes to it",
        {200: _ACCOUNT, 403: _NOT_HERE, 404: Answer("not_found (network)"), 409: _NOT_ADVOCATE},
        path_params=_NETWORK,
    ),
    Operation(
        "GET",
        "/advocacy",
        "The advocate's page: the consent's wording and opt-in, her accounts (Connect, Disconnect, the"
        " Bluesky app password), opt-out",
        {
            200: Answer("the page", media_type="text/html"),
            303: Answer("not signed in (a browser): to the sign-in page", headers={"Location": "/login"}),
        },
        access="agency_session",
        tags=("pages",),
    ),
]
