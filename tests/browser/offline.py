"""The offline promise, checked in the browser: every request a page makes (documents, scripts,
styles, images, fonts, fetch, beacons, frames, WebSockets, service workers) must go to 127.0.0.1 or
localhost. Others are recorded, then aborted before they leave the browser, and fail the test; what
the browser would open below the pages' requests ends in the context's proxy sink (sink.py), which
fails the test too."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import BrowserContext, Page, Request, Route, WebSocketRoute

from tests.browser.sink import ProxySink

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
# URLs that never leave the browser: inline data, objects it made itself, its blank page.
IN_BROWSER_SCHEMES = frozenset({"data", "blob", "about"})
NETWORK_SCHEMES = frozenset({"http", "https", "ws", "wss"})


def stays_local(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in IN_BROWSER_SCHEMES:
        return True
    return parts.scheme in NETWORK_SCHEMES and (parts.hostname or "") in LOCAL_HOSTS


@dataclass
class OfflineGuard:
    """Watches one browser context; `outside` lists each request to another host, in order."""

    sink: ProxySink
    outside: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def watch(self, context: BrowserContext, routes: bool = True) -> None:
        """Record the context's requests and, with `routes`, refuse those to other hosts (without,
        only the proxy sink stands between them and the network: the harness's own test of it)."""
        context.on("request", self._seen)
        context.on("page", self._watch_page)
        if routes:
            context.route(lambda url: not stays_local(url), self._refuse)
            context.route_web_socket(lambda url: not stays_local(url), self._refuse_socket)

    def _watch_page(self, page: Page) -> None:
        page.on("websocket", lambda socket: self._note(socket.url))

    def _seen(self, request: Request) -> None:
        self.requests.append(request.url)
        self._note(request.url)

    def _note(self, url: str) -> None:
        if not stays_local(url) and url not in self.outside:
            self.outside.append(url)

    def _refuse(self, route: Route) -> None:
        self._note(route.request.url)
        route.abort("blockedbyclient")

    def _refuse_socket(self, socket: WebSocketRoute) -> None:
        self._note(socket.url)
        socket.close(code=1008, reason="offline test: only 127.0.0.1 and localhost")

    def problems(self) -> list[str]:
        return [f"request to {url}" for url in self.outside] + [
            f"connection through the proxy to {target}" for target in self.sink.targets
        ]

    def check(self) -> None:
        """Fail the test if anything went for another host than 127.0.0.1 or localhost."""
        if self.problems():
            pytest.fail(
                "the offline promise is broken: these did not go to 127.0.0.1 or localhost:\n  "
                + "\n  ".join(self.problems()),
                pytrace=False,
            )
