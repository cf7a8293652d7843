"""`GET /oauth/{network}/callback`: where X, LinkedIn and Mastodon send an advisor back after she
consented, or declined, to let Relais post as her (issue #16 item 2). The one redirect URI registered
with each network.

Public (no sign-in): the advisor comes from the network's site, and her session is at her agency's
node, not here. The `state` in the address is the capability: unguessable, bound to one advocate and
network, ten minutes, one use (services/hub/advocates_oauth.py). An unknown, expired or spent state is
a 400 page; nothing is said about which. The page is in the advisor's language: `?lang=` or the
language cookie when she chose one here, else the language she consented in at her node.
"""

from __future__ import annotations

from aiohttp import web

from services.hub.advocates_oauth import Connections, Finished, NotFinished
from services.hub.dashboard_html import HEADERS
from shared.access import PublicRoutes
from shared.api_contract import Answer, Operation, Parameter
from shared.i18n import LANG_COOKIE, N_, choose, words
from shared.i18n.templates import environment

__all__ = ["CONNECTIONS", "OPERATIONS", "PATH", "PUBLIC", "add_routes"]

PATH = "/oauth/{network}/callback"
PUBLIC: PublicRoutes = frozenset({("GET", PATH)})
CONNECTIONS = web.AppKey("advocate_connections", Connections)

# code -> (status, title, message): what the advisor reads, and whether the link back is shown.
PAGES = {
    "connected": (200, N_("Account connected"), N_("Your %(network)s account %(handle)s is connected.")),
    "refused": (
        200,
        N_("Nothing connected"),
        N_("You declined: Relais will not post on %(network)s for you."),
    ),
    "unknown_state": (
        400,
        N_("Link expired"),
        N_("This connection link is unknown, expired or already used. Start again from your agency's page."),
    ),
    "no_sealing_key": (
        503,
        N_("Try again in a moment"),
        N_("Relais cannot store the account yet. Reload this page in a few minutes."),
    ),
    "network_refused": (
        502,
        N_("Not connected"),
        N_("%(network)s did not let Relais connect the account. Start again from your agency's page."),
    ),
}
NETWORK_NAMES = {"x": "X", "linkedin": "LinkedIn", "mastodon": "Mastodon"}

_HTML = "text/html"
OPERATIONS: list[Operation] = [
    Operation(
        "GET",
        PATH,
        "Where X, LinkedIn or Mastodon send an advisor back after her consent (the app's one redirect URI)",
        {
            200: Answer(
                "connected (or declined): a page linking back to her agency's node", media_type=_HTML
            ),
            400: Answer("a state the hub did not give, expired (10 min) or already used", media_type=_HTML),
            502: Answer("the network refused the code or did not say whose account it is", media_type=_HTML),
            503: Answer(
                "the dispatcher's sealing key is not there yet: nothing spent, reload", media_type=_HTML
            ),
        },
        access="public",
        parameters=[
            Parameter("state", str, "the capability the hub bound to one advocate and network", True),
            Parameter("code", str, "the network's authorization code"),
            Parameter("error", str, "the network's refusal (access_denied: she declined)"),
            Parameter("lang", str, "fr, ar or en (default: the language she consented in)"),
        ],
        path_params={"network": str},
        tags=["advocacy"],
    )
]


def _page(
    request: web.Request, code: str, return_to: str, language: str | None, handle: str = ""
) -> web.Response:
    locale = choose(request.query.get("lang") or request.cookies.get(LANG_COOKIE), language)
    status, title, message = PAGES[code]
    said = words(locale)
    network = NETWORK_NAMES.get(request.match_info["network"], "")
    text = (
        environment("services.hub", locale)
        .get_template("advocate_connection.html")
        .render(
            title=said.gettext(title),
            message=said.gettext(message) % {"network": network, "handle": handle},
            return_to=return_to,
        )
    )
    return web.Response(text=text, status=status, content_type="text/html", headers=HEADERS)


async def callback(request: web.Request) -> web.Response:
    network = request.match_info["network"]
    query = {key: request.query[key] for key in ("code", "state", "error") if key in request.query}
    try:
        done: Finished = await request.app[CONNECTIONS].finish(network, query)
    except NotFinished as stopped:
        return _page(request, stopped.code, stopped.return_to, stopped.language)
    return _page(request, done.status, done.return_to, done.language, done.handle)


def add_routes(app: web.Application, connections: Connections) -> None:
    app[CONNECTIONS] = connections
    app.router.add_get(PATH, callback)
