"""`python -m services.federation`: run the federation service."""

from services.federation.service import run
from services.federation.settings import Settings
from shared.logs import configure_logging
from shared.web import run_until_stopped


def main() -> None:
    settings = Settings.from_env()
    configure_logging(settings.log_format, service="federation")
    run_until_stopped(lambda stop: run(settings, stop))


if __name__ == "__main__":
    main()
