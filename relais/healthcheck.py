"""`python -m relais.healthcheck URL`: exit 0 when URL answers 200 (compose health checks; the image
has no curl)."""

from __future__ import annotations

import sys

from relais.processes import wait_ready


def main() -> int:
    return 0 if len(sys.argv) == 2 and wait_ready(sys.argv[1], timeout=3) else 1


if __name__ == "__main__":
    raise SystemExit(main())
