"""The advocates' page at the node (issue #16 item 2): `GET /advocacy`, for the signed-in advisor, in
French, Arabic (right to left) or English, offline like the composer.

It shows the consent's wording in the page's language and the opt-in button (what the page shows is
what the node records: `advocates.consent_text`), then once she opted in: when, to which version and
in which language, her pseudonym, each network's state with Connect or Disconnect (X, LinkedIn,
Mastodon through the network's consent page; Mastodon asks for the instance), the Bluesky app
password form, and the opt-out button. Its script (static/advocacy.js) calls the advocates' API
(advocates_api.py) with the session's CSRF token in a header, like the inbox's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from services.intake import advocates
from services.intake.composer_page import json_block
from services.intake.keys import DATABASE, LINK, SETTINGS
from services.intake.web_auth import HEADERS, live_advisor
from shared.advocacy.oauth import OAUTH_NETWORKS
from shared.i18n import ERROR_CODES, Words, words
from shared.i18n.templates import environment
from shared.i18n.web import locale_of
from shared.networks import NETWORKS

__all__ = ["add_routes"]

_TO_CONNECT = (advocates.NOT_CONNECTED, "needs_reauth", "refused")
_TO_DISCONNECT = (advocates.CONNECTING, "connected", "needs_reauth")


def _account(account: dict[str, Any], language: Words) -> dict[str, Any]:
    network = account["network"]
    return {
        **account,
        "name": NETWORKS[network].title if network in NETWORKS else network,
        "status_words": language.pgettext("advocacy_status", account["status"]),
        "oauth": network in OAUTH_NETWORKS,
        # Connect again when the network refused or the token expired; disconnect what holds credentials.
        "can_connect": account["status"] in _TO_CONNECT,
        "can_disconnect": account["status"] in _TO_DISCONNECT,
    }


def script_strings(language: Words) -> dict[str, Any]:
    """The words advocacy.js shows, from the catalog (a JSON block in the page, CSP-safe)."""
    _ = language.gettext
    return {
        "errors": {code: language.error(code) for code in ERROR_CODES},
        "noAnswer": _("The node did not answer; try again."),
        "signedOut": _("Signed out: reload the page to sign in again."),
        "confirmOptOut": _("Withdraw your consent? Your accounts will be disconnected."),
    }


async def advocacy_page(request: web.Request) -> web.Response:
    row = live_advisor(request)
    if row is None:  # the access middleware sends a person without a session to sign in first
        raise web.HTTPSeeOther("/login")
    db, locale = request.app[DATABASE], locale_of(request)
    language = words(locale)
    state = advocates.me(db, row["username"])
    consent = state["consent"]
    given = None
    if consent is not None:
        given = {
            **consent,
            "shown": language.moment(datetime.fromisoformat(consent["given_at"])),
            "language_name": language.language_name(consent["language"]),
        }
    text = (
        environment("services.intake", locale)
        .get_template("advocacy.html")
        .render(
            agency=request.app[SETTINGS].agency,
            current="advocacy",
            title=language.gettext("Share the service's stories"),
            username=row["username"],
            csrf=row["csrf"],
            advocate=state["advocate"],
            consent=given,
            consent_text=advocates.consent_text(locale),
            accounts=[_account(a, language) for a in state["accounts"]],
            link_up=request.app[LINK].connected,
            sealing_ready=advocates.sealing_key(db) is not None,
            strings_json=json_block(script_strings(language)),
            data_json=json_block({"lang": locale}),
        )
    )
    return web.Response(text=text, content_type="text/html", headers=HEADERS)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/advocacy", advocacy_page)
