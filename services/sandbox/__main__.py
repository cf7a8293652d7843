"""`python -m services.sandbox`: serve the network emulators until SIGINT or SIGTERM.

Logging is configured here and nowhere else: JSON lines when stderr is not a terminal, readable
lines when it is. A port already in use is reported in one line, exit status 2.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import signal
import sys

import structlog
from aiohttp import web

from .app import create_app
from .settings import Settings

_PORT_IN_USE = 2


def _configure_logging() -> None:
    renderer: structlog.types.Processor = (
        structlog.dev.ConsoleRenderer() if sys.stderr.isatty() else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )


async def _serve(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    runner = web.AppRunner(create_app(settings), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.host, settings.port).start()
        structlog.get_logger().info("sandbox.listening", host=settings.host, port=settings.port)
        await stop.wait()
    finally:
        await runner.cleanup()


def main() -> int:
    settings = Settings.from_env()
    _configure_logging()
    try:
        asyncio.run(_serve(settings))
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        print(
            f"sandbox: port {settings.port} is in use; set RELAIS_SANDBOX_PORT to a free port",
            file=sys.stderr,
        )
        return _PORT_IN_USE
    structlog.get_logger().info("sandbox.stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
