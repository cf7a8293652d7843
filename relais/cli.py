"""`relais`: the command line.

relais run                                     start the whole system locally (what `make run` does)
relais token create --role advisor --agency ID print a signed token and nothing else
relais token create --role admin
relais init [--sandbox-credentials CSV]        create the signing key (deployments do this once)
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from relais.processes import ManagedProcess, port_free, stop_all
from relais.system import DEMO_CSV, Ports, agencies_in, system_specs, write_sandbox_credentials
from shared import config
from shared.tokens import ROLES, issue_token, load_or_create_private_key


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="relais", description="Relais: write once, publish everywhere.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="start the whole system locally on embedded defaults")
    init = commands.add_parser(
        "init", help="create the hub's signing key (and sandbox credentials) if missing"
    )
    init.add_argument(
        "--sandbox-credentials", metavar="CSV", help="write sandbox credentials for this registry"
    )
    token = commands.add_parser("token", help="manage API tokens").add_subparsers(
        dest="action", required=True
    )
    create = token.add_parser("create", help="print a new signed token")
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--agency", help="the agency an advisor token acts for")
    create.add_argument("--subject", help="who the token is for (default: <role>@<agency>)")
    create.add_argument("--ttl-days", type=int, default=30)
    args = parser.parse_args(argv)
    if args.command == "run":
        return run_system()
    if args.command == "init":
        load_or_create_private_key(config.token_key_path())
        if args.sandbox_credentials:
            write_sandbox_credentials(Path(args.sandbox_credentials), config.data_dir() / "credentials.json")
        return 0
    return create_token(args)


def create_token(args: argparse.Namespace) -> int:
    key = load_or_create_private_key(config.token_key_path())
    subject = args.subject or (f"{args.role}@{args.agency}" if args.agency else args.role)
    try:
        token = issue_token(
            key, role=args.role, subject=subject, agency=args.agency, ttl_seconds=args.ttl_days * 86400
        )
    except ValueError as exc:
        print(f"relais: {exc}", file=sys.stderr)
        return 2
    print(token)
    return 0


def run_system() -> int:
    data_dir = config.data_dir()
    ports = Ports.from_env()
    csv_path = Path(os.environ.get("RELAIS_FEDERATION_CSV") or DEMO_CSV)
    specs = system_specs(data_dir, ports, csv_path, config.log_format())
    for spec in specs:
        if spec.port is not None and not port_free("127.0.0.1", spec.port):
            print(
                f"relais: port {spec.port} is in use; set {spec.port_variable} to a free port",
                file=sys.stderr,
            )
            return 2
    key = load_or_create_private_key(config.token_key_path())
    write_sandbox_credentials(csv_path, data_dir / "credentials.json")
    processes = [ManagedProcess(spec, data_dir / "logs") for spec in specs]
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        for process in processes:
            process.start()
        for process in processes:
            process.wait_ready()
        agency = agencies_in(csv_path)[0]
        advisor = issue_token(key, role="advisor", subject=f"conseiller@{agency}", agency=agency)
        admin = issue_token(key, role="admin", subject="admin@hub")
        _print_banner(ports, agencies_in(csv_path), advisor, admin, data_dir)
        while all(p.alive for p in processes):
            time.sleep(0.5)
        dead = [p for p in processes if not p.alive]
        for process in dead:
            print(f"relais: {process.spec.name} stopped; last lines of {process.log_path}:", file=sys.stderr)
            print(process.tail(), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nrelais: stopping…", file=sys.stderr)
        return 0
    except RuntimeError as exc:
        print(f"relais: {exc}", file=sys.stderr)
        return 1
    finally:
        stop_all(processes)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _print_banner(ports: Ports, agencies: list[str], advisor: str, admin: str, data_dir: Path) -> None:
    intakes = "\n".join(
        f"  intake {a:<22} http://127.0.0.1:{ports.intake_for(i)}" for i, a in enumerate(agencies)
    )
    print(
        f"""Relais is running. Ctrl-C stops everything.

  hub (audit, web)              http://127.0.0.1:{ports.hub}/
{intakes}
  sandbox networks              http://127.0.0.1:{ports.sandbox}/
  NATS                          nats://127.0.0.1:{ports.nats}
  logs                          {data_dir}/logs/

Advisor token ({agencies[0]}):
{advisor}

Admin token:
{admin}

Try:
  curl -s -X POST http://127.0.0.1:{ports.intake}/v1/posts -H "Authorization: Bearer $TOKEN" \\
       -H 'Content-Type: application/json' \\
       -d '{{"text": "Job dating logistique jeudi 10 h à Lyon Part-Dieu ! #emploi",
            "networks": ["x", "mastodon", "bluesky", "linkedin", "facebook"]}}'
""",
        flush=True,
    )


if __name__ == "__main__":
    raise SystemExit(main())
