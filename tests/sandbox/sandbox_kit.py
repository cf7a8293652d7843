"""Type names shared by the sandbox tests (a uniquely named module: both test folders have a conftest)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

Sandbox = TestClient[web.Request, web.Application]
Arm = Callable[..., Awaitable[None]]
Received = Callable[..., Awaitable[list[dict[str, Any]]]]
