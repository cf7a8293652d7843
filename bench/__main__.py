"""Run every benchmark of this folder; each prints its own `name key=value …` summary lines."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def main() -> int:
    failed = 0
    for script in sorted(Path(__file__).parent.glob("bench_*.py")):
        print(f"# {script.name}", flush=True)
        # As modules from the repository root, so that benchmarks can use the tests' harness.
        module = f"bench.{script.stem}"
        failed += (
            subprocess.run([sys.executable, "-m", module], cwd=script.parent.parent, check=False).returncode
            != 0
        )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
