"""`relais`: the command line.

relais run                                      everything on this machine (what `make run` does)
relais hub                                      the central side: NATS, federation, formatter, hub, dispatcher
relais agency --id ID --hub NATS_URL            one agency node (its intake and SQLite outbox)
relais init [--sandbox-credentials CSV] [--nats-auth DIR CSV] [...]  keys, NATS users (deployments)
relais token create --role advisor --agency ID  print a signed token and nothing else
relais token create --role moderator [--region R]   a regional (or national) moderator's token
relais pages import FILE                        load a registry CSV into the federation (idempotent)
relais users create --username U --role moderator [--region R]   a dashboard user (password on stdin)
relais preview [--json] [--network N]... TEXT   how TEXT is rendered on each network (offline)
relais ctl status | stop SERVICE | start SERVICE   act on a running `relais run`, `hub` or `agency`
relais backup DIR [--no-bus]                    databases, keys and JetStream, while the system runs
relais restore DIR [--part files|bus|all] [--force]   into an empty deployment
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path

from relais import audit as audit_trail
from relais import backup as backups
from relais import control
from relais import preview as preview_cli
from relais import tokens as tokens_cli
from relais import users as users_cli
from relais.banner import banner_text
from relais.credentials import set_credential
from relais.deployment import initialise
from relais.nats_tls import server_names
from relais.pages import import_pages_file
from relais.processes import ManagedProcess
from relais.supervise import supervise
from relais.system import (
    DEMO_CSV,
    Ports,
    agencies_in,
    agency_spec,
    hub_specs,
    system_specs,
    write_sandbox_credentials,
)
from services.hub.accounts import create_user, hash_password, set_password_hash, user
from services.hub.store import open_store
from shared import config
from shared.private_files import keep_files_private
from shared.tokens import ROLES, issue_token, load_or_create_private_key

DEMO_MODERATOR = "moderatrice"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="relais", description="Relais: write once, publish everywhere.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="start the whole system locally on embedded defaults")
    hub = commands.add_parser(
        "hub", help="start the central side (NATS, federation, formatter, hub, dispatcher)"
    )
    hub.add_argument("--no-sandbox", action="store_true", help="do not start the sandbox networks")
    agency = commands.add_parser("agency", help="start one agency node")
    agency.add_argument("--id", required=True, help="the agency this node serves")
    agency.add_argument("--hub", required=True, help="the hub's NATS URL, e.g. nats://hub.example:4222")
    init = commands.add_parser(
        "init", help="create the hub's signing key (and sandbox credentials) if missing"
    )
    init.add_argument(
        "--sandbox-credentials",
        metavar="CSV",
        type=Path,
        help="write sandbox credentials for this registry, only if the credentials store is empty",
    )
    init.add_argument(
        "--nats-auth",
        nargs=2,
        metavar=("DIR", "CSV"),
        type=Path,
        help="write the NATS users (hub, one per agency of this registry) and their passwords to DIR",
    )
    init.add_argument(
        "--nats-server-config", metavar="FILE", type=Path, help="copy nats-server's users block to FILE"
    )
    init.add_argument(
        "--nats-password",
        nargs=2,
        action="append",
        metavar=("USER", "FILE"),
        help="copy one NATS user's password to FILE (repeatable): each service reads only its own",
    )
    init.add_argument(
        "--token-public-key", metavar="FILE", type=Path, help="copy the signing key's public half to FILE"
    )
    init.add_argument(
        "--nats-tls",
        nargs=2,
        metavar=("DIR", "NAMES"),
        help="make a CA (once) and a server certificate for NAMES (comma-separated host names and "
        "addresses the NATS nodes are reached by) in DIR",
    )
    init.add_argument(
        "--nats-server-tls", metavar="DIR", type=Path, help="copy the server certificate and its key to DIR"
    )
    init.add_argument(
        "--nats-ca", metavar="FILE", type=Path, help="copy the CA's certificate (what clients check) to FILE"
    )
    init.add_argument(
        "--owner", metavar="UID", type=int, help="when run as root, hand every file written to this user"
    )
    token = commands.add_parser("token", help="manage API tokens").add_subparsers(
        dest="action", required=True
    )
    create = token.add_parser("create", help="print a new signed token")
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--agency", help="the agency an advisor token acts for (advisors only, required)")
    create.add_argument("--region", help="a moderator's region (moderators only; default: national)")
    create.add_argument("--subject", help="who the token is for (default: <role>@<agency or region>)")
    create.add_argument(
        "--ttl-days", type=int, default=30, help=f"days until it expires, 1-{tokens_cli.MAX_TTL_DAYS}"
    )
    revoke = token.add_parser("revoke", help="revoke a token by its id (agency nodes learn it from the hub)")
    revoke.add_argument("token_id")
    token.add_parser("list", help="list issued tokens (ids, roles, expiry, revocation; never the tokens)")
    pages = commands.add_parser("pages", help="the federation's page registry").add_subparsers(
        dest="action", required=True
    )
    imports = pages.add_parser("import", help="load a registry CSV (checked line by line; idempotent)")
    imports.add_argument("file", type=Path)
    creds = commands.add_parser("credentials", help="network credentials (encrypted at rest)")
    creds_set = creds.add_subparsers(dest="action", required=True).add_parser(
        "set", help="store one credential field, read from standard input, encrypted"
    )
    creds_set.add_argument("ref", help="the credentials reference a page carries in the registry")
    creds_set.add_argument("field", help="token, or identifier / password for Bluesky")
    audit = commands.add_parser("audit", help="the hub's audit trail").add_subparsers(
        dest="action", required=True
    )
    check = audit.add_parser("verify", help="check the whole hash chain; name the first broken entry")
    check.add_argument("--db", type=Path, help="audit database (default: $RELAIS_DATA_DIR/hub.db)")
    out = audit.add_parser("export", help="export entries as CSV or JSON lines, on standard output")
    out.add_argument("--db", type=Path, help="audit database (default: $RELAIS_DATA_DIR/hub.db)")
    out.add_argument("--since", help="only entries that occurred at or after this ISO-8601 time")
    out.add_argument("--format", choices=("csv", "jsonl"), default="jsonl")
    take = commands.add_parser("backup", help="back up databases, keys and JetStream while the system runs")
    take.add_argument("dir", type=Path, help="a new (or empty) folder")
    take.add_argument(
        "--no-bus", action="store_true", help="databases and files only (an agency node on its own host)"
    )
    take.add_argument(
        "--volume",
        action="append",
        metavar="NAME=PATH",
        help="a folder of the deployment, by name (repeatable; default: data=$RELAIS_DATA_DIR)",
    )
    back = commands.add_parser("restore", help="restore a backup into an empty deployment")
    back.add_argument("dir", type=Path)
    back.add_argument(
        "--part",
        choices=("files", "bus", "all"),
        default="all",
        help="files (databases, keys: before NATS starts), bus (streams, consumers: NATS running), or both",
    )
    back.add_argument("--force", action="store_true", help="replace data the target already holds")
    back.add_argument(
        "--volume",
        action="append",
        metavar="NAME=PATH",
        help="where each backed-up folder goes (repeatable; default: data=$RELAIS_DATA_DIR)",
    )
    preview_cli.add_parser(commands)
    users_cli.add_parser(commands)
    control.add_parser(commands)
    args = parser.parse_args(argv)
    # Before anything is written: keys, databases, logs and the NATS store of the processes it starts.
    keep_files_private(config.data_dir())
    match args.command:
        case "run":
            return run_system()
        case "hub":
            return run_hub(sandbox=not args.no_sandbox)
        case "agency":
            return run_agency(args.id, args.hub)
        case "init":
            return initialise(
                sandbox_registry=args.sandbox_credentials,
                nats_auth=tuple(args.nats_auth) if args.nats_auth else None,
                nats_server_config=args.nats_server_config,
                nats_passwords=[(user, Path(file)) for user, file in args.nats_password or []],
                token_public_key=args.token_public_key,
                tls=(Path(args.nats_tls[0]), server_names(args.nats_tls[1])) if args.nats_tls else None,
                tls_server=args.nats_server_tls,
                tls_ca=args.nats_ca,
                owner=args.owner,
            )
        case "preview":
            return preview_cli.run(args)
        case "pages":
            return import_pages_file(args.file, config.data_dir() / "federation.db")
        case "users":
            database = args.db or config.data_dir() / "hub.db"
            return users_cli.create(database, args.username, args.role, args.region)
        case "credentials":
            target = Path(os.environ.get("RELAIS_CREDENTIALS_FILE") or config.data_dir() / "credentials.json")
            return set_credential(target, args.ref, args.field)
        case "audit":
            database = args.db or config.data_dir() / "hub.db"
            if args.action == "verify":
                return audit_trail.verify(database)
            return audit_trail.export(database, args.since, args.format)
        case "token":
            return token_command(args)
        case "ctl":
            return control.run(config.data_dir(), args)
        case "backup" | "restore":
            return backup_command(args)
    parser.error(f"no such command: {args.command}")  # exits 2


def backup_command(args: argparse.Namespace) -> int:
    try:
        volumes = backups.parse_volumes(args.volume, config.data_dir())
    except ValueError as exc:
        print(f"relais: {exc}", file=sys.stderr)
        return 2
    url = backups.hub_url(config.data_dir(), config.nats_url())
    if args.command == "backup":
        return backups.backup(args.dir, volumes, None if args.no_bus else url)
    return backups.restore(args.dir, volumes, url, args.part, args.force)


def token_command(args: argparse.Namespace) -> int:
    hub_db = config.data_dir() / "hub.db"
    match args.action:
        case "revoke":
            return tokens_cli.revoke(hub_db, args.token_id)
        case "list":
            return tokens_cli.list_tokens(hub_db)
        case "create":
            request = tokens_cli.TokenRequest(
                args.role, args.agency, args.region, args.subject, args.ttl_days
            )
            registry = config.data_dir() / "federation.db"
            return tokens_cli.create(hub_db, config.token_key_path(), registry, request)
    print(f"relais: no such token action: {args.action}", file=sys.stderr)
    return 2


def _registry() -> Path:
    return Path(os.environ.get("RELAIS_FEDERATION_CSV") or DEMO_CSV)


def run_system() -> int:
    data_dir, ports, csv_path = config.data_dir(), Ports.from_env(), _registry()
    key = load_or_create_private_key(config.token_key_path())
    write_sandbox_credentials(csv_path, data_dir / "credentials.json")
    specs = system_specs(data_dir, ports, csv_path, config.log_format())
    processes = [ManagedProcess(spec, data_dir / "logs") for spec in specs]
    agencies = agencies_in(csv_path)

    def banner() -> None:
        advisor = issue_token(key, role="advisor", subject=f"conseiller@{agencies[0]}", agency=agencies[0])
        admin = issue_token(key, role="admin", subject="admin@hub")
        for token in (advisor, admin):
            tokens_cli.record(data_dir / "hub.db", token, key)
        _print_banner(ports, agencies, advisor, admin, data_dir, _demo_moderator(data_dir))

    return supervise(processes, banner, data_dir)


def run_hub(sandbox: bool) -> int:
    data_dir, ports, csv_path = config.data_dir(), Ports.from_env(), _registry()
    load_or_create_private_key(config.token_key_path())
    if sandbox:
        write_sandbox_credentials(csv_path, data_dir / "credentials.json")
    specs = hub_specs(data_dir, ports, csv_path, config.log_format(), sandbox=sandbox)
    processes = [ManagedProcess(spec, data_dir / "logs") for spec in specs]
    return supervise(
        processes,
        lambda: print(f"Relais hub is running: http://127.0.0.1:{ports.hub}/", flush=True),
        data_dir,
    )


def run_agency(agency: str, hub_url: str) -> int:
    data_dir = config.data_dir()
    port = config.env_int(os.environ, "RELAIS_INTAKE_PORT", 8701)
    spec = agency_spec(agency, hub_url, port, data_dir, config.token_public_key_path(), config.log_format())
    process = ManagedProcess(spec, data_dir / "logs")
    return supervise(
        [process], lambda: print(f"Agency {agency}: http://127.0.0.1:{port}/v1/posts", flush=True), data_dir
    )


def _demo_moderator(data_dir: Path) -> str:
    """A national moderator for the demo dashboard, with a fresh password each run."""
    password = secrets.token_urlsafe(12)
    db = open_store(data_dir / "hub.db")
    try:
        if user(db, DEMO_MODERATOR):
            set_password_hash(db, DEMO_MODERATOR, hash_password(password))
        else:
            create_user(db, DEMO_MODERATOR, "moderator", None, password)
    finally:
        db.close()
    return password


def _print_banner(
    ports: Ports, agencies: list[str], advisor: str, admin: str, data_dir: Path, moderator_password: str
) -> None:
    moderator = (DEMO_MODERATOR, moderator_password)
    print(banner_text(ports, agencies, advisor, admin, data_dir, moderator), flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
