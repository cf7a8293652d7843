"""`python -m services.intake`: run one agency's local endpoint."""

import asyncio

from services.intake.app import create_app
from services.intake.settings import Settings
from shared.logs import configure_logging
from shared.web import run_until_stopped, start_site


async def serve(settings: Settings, stop: asyncio.Event) -> None:
    runner = await start_site(create_app(settings), settings.host, settings.port, "RELAIS_INTAKE_PORT")
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main() -> None:
    settings = Settings.from_env()
    configure_logging(settings.log_format, service="intake")
    run_until_stopped(lambda stop: serve(settings, stop))


if __name__ == "__main__":
    main()
