"""`python -m services.dispatcher`: run the dispatcher."""

from services.dispatcher.app import run
from services.dispatcher.settings import Settings
from shared.logs import configure_logging
from shared.web import run_until_stopped


def main() -> None:
    settings = Settings.from_env()
    configure_logging(settings.log_format, service="dispatcher")
    run_until_stopped(lambda stop: run(settings, stop))


if __name__ == "__main__":
    main()
