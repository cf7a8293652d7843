"""`python -m services.dispatcher`: run the dispatcher."""

import gc

import uvloop

from services.dispatcher.app import run
from services.dispatcher.settings import Settings
from shared.logs import configure_logging
from shared.web import run_until_stopped

# Each delivery allocates many short-lived objects (requests, tasks, messages): with the default
# first-generation threshold (700) the collector ran every few deliveries and took about a
# fourteenth of the dispatcher's CPU in a fan-out. Cycles are still collected, less often.
GC_THRESHOLDS = (50_000, 20, 20)


def main() -> None:
    gc.set_threshold(*GC_THRESHOLDS)
    settings = Settings.from_env()
    configure_logging(settings.log_format, service="dispatcher")
    # uvloop: the dispatcher's HTTP calls and bus messages cost about an eighth less CPU than on
    # the standard loop (bench/bench_fanout.py, CHANGELOG). The dispatcher alone, the one service
    # whose throughput is measured against a target: uvloop raises where the standard loop
    # ignores a write to a closed socket, and the others have no reason to take that difference.
    run_until_stopped(lambda stop: run(settings, stop), loop_factory=uvloop.new_event_loop)


if __name__ == "__main__":
    main()
