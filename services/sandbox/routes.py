"""Emulators declare each route on its handler; one function adds an API object's routes to the app.

`@route("POST", "/2/tweets")` marks a handler method of an emulator's API class (stack several
for several routes). `add_api(app, api)` adds the marked methods in the order the class defines
them, which is the order aiohttp tries them in.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

from aiohttp import web

__all__ = ["add_api", "api_routes", "route", "routes_of"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_Method = TypeVar("_Method", bound=Callable[..., Awaitable[web.StreamResponse]])

_ROUTES = "_sandbox_routes"


def route(method: str, path: str) -> Callable[[_Method], _Method]:
    """Marks a handler as answering `method` (or `*` for any) on `path`."""

    def mark(handler: _Method) -> _Method:
        # Stacked decorators apply bottom-up: put this one first so routes keep their written order.
        setattr(handler, _ROUTES, ((method, path), *routes_of(handler)))
        return handler

    return mark


def routes_of(function: object) -> tuple[tuple[str, str], ...]:
    """The (method, path) pairs `@route` marked `function` with, in written order."""
    routes: tuple[tuple[str, str], ...] = getattr(function, _ROUTES, ())
    return routes


def api_routes(api: object) -> Iterator[tuple[str, str, Handler]]:
    """The API object's (method, path, bound handler) triples, base classes' methods first."""
    names = dict.fromkeys(name for klass in reversed(type(api).__mro__) for name in vars(klass))
    for name in names:
        for method, path in routes_of(getattr(type(api), name, None)):
            handler: Any = getattr(api, name)
            yield method, path, handler


def add_api(app: web.Application, api: object, *, prefixes: tuple[str, ...] = ("",)) -> None:
    """Adds the API's routes under each prefix in turn (all of the first prefix's routes first)."""
    for prefix in prefixes:
        for method, path, handler in api_routes(api):
            if method == "GET":  # like `add_get`: HEAD is answered by the same handler
                app.router.add_get(prefix + path, handler)
            else:
                app.router.add_route(method, prefix + path, handler)
