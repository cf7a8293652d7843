"""Kills in containers, long version (issue 12, item 2): 200 posts from the agency's intake to five
networks (1,000 deliveries) on the real compose deployment, while the main process of the
dispatcher, the hub, the federation, the agency's intake and nats-server is SIGKILLed in turn from
the host (each comes back by its restart policy), then restarted with `docker compose restart`.

200 posts to one page per network would outrun the networks' own limits, which the dispatcher
applies up front (X: 100 posts per 15 minutes per account; LinkedIn: 150 a day): the run would
measure a day of LinkedIn's window, not the kills. So the agency gets `PAGES_PER_NETWORK` pages on
each network (the demo registry plus a few more, mounted over it for `init` and the federation)
and each post names one page per network, in turn: at most 50 posts per page, within every limit,
with the sandbox's rate limits on.

Starts its own compose project (tests/docker_deployment.py) and takes it down. Holds the run to the
policy of `tests/engine/kill_scenario.py` and prints `compose_kills posts=… deliveries=…
killed=dispatcher,hub,federation,intake,nats restarts=… published_once=… duplicates=0 lost=0 …
recovery_s_max=…`; exits 1 if the policy did not hold. `python -m bench.bench_compose_kills [posts]`.
"""

from __future__ import annotations

import csv
import os
import sys
import tempfile
from pathlib import Path

from tests.docker_deployment import COMPOSE_FILE, REPO, Deployment, engine_problem
from tests.engine.kill_scenario import AGENCY, NETWORKS, problems, run, summary

ARGS = [int(a) for a in sys.argv[1:] if a.isdigit()]
POSTS = ARGS[0] if ARGS else 200
PAGES_PER_NETWORK = 4
DEMO_CSV = REPO / "services" / "federation" / "data" / "demo_federation.csv"
IN_IMAGE = "/app/services/federation/data/demo_federation.csv"  # what init and the federation read


def registry_with_more_pages(target: Path) -> dict[str, list[str]]:
    """The demo registry, plus pages 2… of the agency on each network (their own handles, so their
    own sandbox accounts and credentials); returns the agency's pages per network."""
    with DEMO_CSV.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    ours = [row for row in rows if row["agency"] == AGENCY and row["network"] in NETWORKS]
    extra = []
    for row in ours:
        for n in range(2, PAGES_PER_NETWORK + 1):
            handle_ = f"{row['handle']}{n}" if row["handle"].isdigit() else f"{row['handle']}-{n}"
            extra.append(
                {
                    **row,
                    "page": f"{row['page']}-{n}",
                    "handle": handle_,
                    "credentials_ref": f"{row['credentials_ref']}-{n}",
                }
            )
    with target.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows([*rows, *extra])
    target.chmod(0o644)  # read in the containers by their unprivileged user
    pages: dict[str, list[str]] = {network: [] for network in NETWORKS}
    for row in [*ours, *extra]:
        pages[row["network"]].append(row["page"])
    return pages


def main() -> int:
    problem = engine_problem()
    if problem:
        print(f"compose_kills skipped: no Docker engine ({problem})")
        return 1
    with tempfile.TemporaryDirectory(prefix="relais-bench-kills-") as folder:
        registry = Path(folder) / "federation.csv"
        pages = registry_with_more_pages(registry)
        override = Path(folder) / "more-pages.yml"
        mount = f"      - {registry}:{IN_IMAGE}:ro\n"
        override.write_text(f"services:\n  init:\n    volumes:\n{mount}  federation:\n    volumes:\n{mount}")
        deployment = Deployment(f"relais-bench-kills-{os.getpid()}", files=[COMPOSE_FILE, override])
        try:
            outcome = run(
                deployment,
                POSTS,
                spread_s=2.0,
                kill_after_s=0.1,
                drain_s=600,
                pages=lambda index: [pages[n][index % PAGES_PER_NETWORK] for n in NETWORKS],
            )
            found = problems(outcome)
            if found:
                print(deployment.logs()[-10000:])
        finally:
            deployment.down()
    for recovery in outcome.recoveries:
        print(f"# {recovery}")
    for line in found[:50]:
        print(f"# problem: {line}")
    print(summary(outcome), flush=True)
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
