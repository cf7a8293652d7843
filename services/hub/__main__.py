"""`python -m services.hub`: run the hub."""

from services.hub.app import run
from services.hub.settings import Settings
from shared.logs import configure_logging
from shared.web import run_until_stopped


def main() -> None:
    settings = Settings.from_env()
    configure_logging(settings.log_format, service="hub")
    run_until_stopped(lambda stop: run(settings, stop))


if __name__ == "__main__":
    main()
