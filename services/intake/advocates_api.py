"""The advocates' API at the node (issue #16 item 2): `GET /v1/advocacy/me`, `POST` and `DELETE
/v1/advocacy/consent`, `POST /v1/advocacy/accounts/{network}/connect` (X, LinkedIn, Mastodon),
`POST /v1/advocacy/accounts/bluesky` and `DELETE /v1/advocacy/accounts/{network}`.

The caller is the advocate: an advisor of this agency, signed in here or with her token; no route
takes an advocate id, so no one acts on another's consent or accounts (an admin or another role has
no consent to give here: 403). Everything but connecting works offline (services/intake/advocates.py
writes the change and its event in one transaction; the relay sends it). Connecting on X, LinkedIn or
Mastodon asks the hub for the network's consent page (a core NATS request on
`advocacy_connect.<agency>`, ~5 s): without the link, 503 saying so.
"""

from __future__ import annotations

import msgspec
import nats.errors
import structlog
from aiohttp import web

from services.intake import advocates
from services.intake.advocates_contract import (
    AccountView,
    AdvocacyView,
    AuthorizationAnswer,
    BlueskyIn,
    ConnectIn,
    ConsentIn,
)
from services.intake.handlers import claims_for_agency
from services.intake.keys import DATABASE, LINK, RELAY, SETTINGS
from shared.advocacy.accounts import ConnectAnswer, ConnectRequest, connect_subject
from shared.advocacy.oauth import OAUTH_NETWORKS
from shared.advocacy.stories import ADVOCACY_NETWORKS
from shared.api_contract import conform, typed_json
from shared.http_body import read_json
from shared.post_input import InputError
from shared.sealing import Sealer
from shared.tokens import Claims
from shared.web import AuthError, json_error

__all__ = ["add_routes"]

log = structlog.get_logger("relais.intake.advocates")

CONNECT_TIMEOUT = 5.0  # seconds: the hub answers at once, or the link is not usable for this


def _advisor(request: web.Request) -> Claims:
    """The caller, who must be an advisor of this agency: a consent is the person's own."""
    claims = claims_for_agency(request)
    if claims.role != "advisor":
        raise AuthError(403, "forbidden", "only an advisor of this agency gives or withdraws her own consent")
    return claims


def _view(request: web.Request, user: str) -> dict[str, object]:
    db = request.app[DATABASE]
    return {
        **advocates.me(db, user),
        "link_up": request.app[LINK].connected,
        "sealing_ready": advocates.sealing_key(db) is not None,
    }


async def _body(request: web.Request, type_: type[msgspec.Struct]) -> dict[str, object] | web.Response:
    body = await read_json(request)  # not JSON, or not an object: 400 (shared/http_body.py)
    try:
        conform(body, type_)
    except InputError as exc:
        return json_error(exc.status, exc.code, exc.message, exc.field)
    return body


def _not_an_advocate() -> web.Response:
    message = "opt in first (POST /v1/advocacy/consent): accounts are connected under a standing consent"
    return json_error(409, "not_an_advocate", message, None)


def _unknown_network() -> web.Response:
    return json_error(404, "not_found", f"advocacy networks: {', '.join(ADVOCACY_NETWORKS)}", "network")


async def show_me(request: web.Request) -> web.Response:
    claims = _advisor(request)
    return typed_json(_view(request, claims.subject), AdvocacyView)


async def give_consent(request: web.Request) -> web.Response:
    claims = _advisor(request)
    body = await read_json(request)  # not JSON, or not an object: 400 (shared/http_body.py)
    if body.get("accepted") is False:  # said no: the one refusal a person may see here
        return json_error(422, "consent_not_given", "opting in needs accepted: true", "accepted")
    try:
        conform(body, ConsentIn)
    except InputError as exc:
        return json_error(exc.status, exc.code, exc.message, exc.field)
    agency = request.app[SETTINGS].agency
    _, made = advocates.enrol(request.app[DATABASE], agency, claims.subject, str(body["language"]))
    if made:
        request.app[RELAY].wake()
    return typed_json(_view(request, claims.subject), AdvocacyView, 201 if made else 200)


async def withdraw_consent(request: web.Request) -> web.Response:
    claims = _advisor(request)
    if advocates.opt_out(request.app[DATABASE], request.app[SETTINGS].agency, claims.subject):
        request.app[RELAY].wake()
    return typed_json(_view(request, claims.subject), AdvocacyView)


async def connect(request: web.Request) -> web.Response:
    """Ask the hub for the network's consent page (OAuth 2.0, the state bound to this advocate)."""
    claims = _advisor(request)
    network = request.match_info["network"]
    body = await _body(request, ConnectIn)
    if isinstance(body, web.Response):
        return body
    if network == "bluesky":
        message = "Bluesky takes an app password: POST /v1/advocacy/accounts/bluesky"
        return json_error(422, "app_password_network", message, "network")
    if network not in OAUTH_NETWORKS:
        return _unknown_network()
    instance = body.get("instance")
    if network == "mastodon" and instance is None:
        return json_error(
            422, "instance_required", "Mastodon needs the account's instance (https://…)", "instance"
        )
    if network != "mastodon" and instance is not None:
        return json_error(422, "instance_not_taken", "only a Mastodon account has an instance", "instance")
    settings, db = request.app[SETTINGS], request.app[DATABASE]
    consent = advocates.standing_consent(db, claims.subject)
    if consent is None:
        return _not_an_advocate()
    alog = log.bind(post_id="", agency=settings.agency, advocate=consent.advocate, network=network)
    nc = request.app[LINK].nc
    if nc is None or not request.app[LINK].connected:
        alog.info("advocate.connect_offline")
        return _needs_the_link("link_down")
    asked = ConnectRequest(
        advocate=consent.advocate,
        network=network,
        instance=str(instance) if instance is not None else None,
        return_to=f"{request.scheme}://{request.host}/advocacy",
    )
    try:
        reply = await nc.request(
            connect_subject(settings.agency), msgspec.json.encode(asked), timeout=CONNECT_TIMEOUT
        )
        answer = msgspec.json.decode(reply.data, type=ConnectAnswer)
    except (nats.errors.Error, OSError, TimeoutError, msgspec.DecodeError) as exc:
        alog.warning("advocate.connect_unanswered", error=type(exc).__name__)
        return _needs_the_link("hub_unavailable")
    if answer.error is not None or answer.authorization_url is None:
        alog.info("advocate.connect_refused", code=answer.error)
        message = answer.message or "the hub refused to start this connection"
        return json_error(422, answer.error or "connect_refused", message, "network")
    alog.info("advocate.connect_started")
    return typed_json({"authorization_url": answer.authorization_url}, AuthorizationAnswer)


def _needs_the_link(code: str) -> web.Response:
    message = (
        "connecting an account needs the link to the centre (the hub holds the networks' apps);"
        " try again once the link is back"
    )
    return json_error(503, code, message, None)


async def connect_bluesky(request: web.Request) -> web.Response:
    """Seal the app password at once for the dispatcher; the clear one is never kept nor logged."""
    claims = _advisor(request)
    body = await _body(request, BlueskyIn)
    if isinstance(body, web.Response):
        return body
    settings, db = request.app[SETTINGS], request.app[DATABASE]
    consent = advocates.standing_consent(db, claims.subject)
    if consent is None:
        return _not_an_advocate()
    public_key = advocates.sealing_key(db)
    if public_key is None:
        message = "the node has not received the dispatcher's sealing key yet: try again once the link is up"
        return json_error(503, "no_sealing_key", message, None)
    identifier, pds = str(body["identifier"]), body.get("pds")
    advocates.connect_bluesky(
        db,
        settings.agency,
        consent.advocate,
        Sealer(public_key),
        identifier,
        str(body["app_password"]),
        str(pds) if pds is not None else None,
    )
    request.app[RELAY].wake()
    account = {"network": "bluesky", "status": advocates.CONNECTING, "handle": identifier}
    return typed_json(account, AccountView, 202)


async def disconnect(request: web.Request) -> web.Response:
    claims = _advisor(request)
    network = request.match_info["network"]
    if network not in ADVOCACY_NETWORKS:
        return _unknown_network()
    settings, db = request.app[SETTINGS], request.app[DATABASE]
    consent = advocates.standing_consent(db, claims.subject)
    if consent is None:
        return _not_an_advocate()
    if advocates.disconnect(db, settings.agency, consent.advocate, network):
        request.app[RELAY].wake()
    account = {"network": network, "status": advocates.NOT_CONNECTED, "handle": None}
    return typed_json(account, AccountView)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/advocacy/me", show_me)
    app.router.add_post("/v1/advocacy/consent", give_consent)
    app.router.add_delete("/v1/advocacy/consent", withdraw_consent)
    app.router.add_post("/v1/advocacy/accounts/bluesky", connect_bluesky)
    app.router.add_post("/v1/advocacy/accounts/{network}/connect", connect)
    app.router.add_delete("/v1/advocacy/accounts/{network}", disconnect)
