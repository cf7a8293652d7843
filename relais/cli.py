"""`relais`: the command line.

relais run                                      everything on this machine (what `make run` does)
relais hub                                      the central side: NATS, federation, formatter, hub, dispatcher
relais agency --id ID --hub NATS_URL            one agency node (its intake and SQLite outbox)
relais init [--sandbox-credentials CSV] [--nats-auth DIR CSV] [...]  keys, NATS users (deployments)
relais token create --role advisor --agency ID  print a signed token and nothing else
relais token create --role moderator [--region R]   a regional (or national) moderator's token
relais pages import FILE                        load a registry CSV into the federation (idempotent)
relais users create --username U --role moderator [--region R]   a dashboard user (password on stdin)
relais users create --username U --role advisor --agency ID       an advisor, signs in at their node
relais users disable --username U                                  disable a user, end their sessions
relais preview [--json] [--network N]... TEXT   how TEXT is rendered on each network (offline)
relais ctl status | stop SERVICE | start SERVICE   act on a running `relais run`, `hub` or `agency`
relais backup DIR [--no-bus]                    databases, keys and JetStream, while the system runs
relais restore DIR [--part files|bus|all] [--force] [--owner UID]   into an empty deployment
relais inbox deadline --calendar C --received TIME [--target DURATION]   an SLA deadline, offline
relais report --month YYYY-MM [--format table|csv]   the inbox's figures and posts of a month (hub.db)
relais advocates forget USER [--agency A]       erase who a person's advocate pseudonyms are (#16)

Each command is one function, set on its parser as `run`: a command without one cannot be reached,
and an unknown command is argparse's usage error (exit 2), never another command's.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeAlias

from relais import advocates as advocates_cli
from relais import audit as audit_trail
from relais import backup as backups
from relais import control, launch
from relais import preview as preview_cli
from relais import report as report_cli
from relais import tokens as tokens_cli
from relais import users as users_cli
from relais.credentials import set_credential
from relais.deployment import initialise
from relais.nats_tls import server_names
from relais.pages import import_pages_file
from shared import business_hours, config
from shared.private_files import keep_files_private
from shared.tokens import ROLES

__all__ = ["Command", "main", "parser"]

Command = Callable[[argparse.Namespace], int]
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    # Before anything is written: keys, databases, logs and the NATS store of the processes it starts.
    keep_files_private(config.data_dir())
    command: Command = args.run
    return command(args)


def parser() -> argparse.ArgumentParser:
    """The whole command line: every command, each with its `run`."""
    relais = argparse.ArgumentParser(prog="relais", description="Relais: write once, publish everywhere.")
    commands = relais.add_subparsers(dest="command", required=True)
    _add_processes(commands)
    _add_init(commands)
    _add_token(commands)
    _add_pages(commands)
    _add_credentials(commands)
    _add_audit(commands)
    _add_backup(commands)
    _add_restore(commands)
    _add_inbox(commands)
    preview_cli.add_parser(commands)
    report_cli.add_parser(commands)
    users_cli.add_parser(commands)
    control.add_parser(commands)
    advocates_cli.add_parser(commands)
    return relais


def _actions(commands: Commands, name: str, what: str) -> Commands:
    """A command made of actions (`relais token create|revoke|list`)."""
    return commands.add_parser(name, help=what).add_subparsers(dest="action", required=True)


# relais run | hub | agency


def _add_processes(commands: Commands) -> None:
    run = commands.add_parser("run", help="start the whole system locally on embedded defaults")
    run.set_defaults(run=run_command)
    hub = commands.add_parser(
        "hub", help="start the central side (NATS, federation, formatter, hub, dispatcher)"
    )
    hub.add_argument("--no-sandbox", action="store_true", help="do not start the sandbox networks")
    hub.set_defaults(run=hub_command)
    agency = commands.add_parser("agency", help="start one agency node")
    agency.add_argument("--id", required=True, help="the agency this node serves")
    agency.add_argument("--hub", required=True, help="the hub's NATS URL, e.g. nats://hub.example:4222")
    agency.set_defaults(run=agency_command)


def run_command(args: argparse.Namespace) -> int:
    return launch.run_system()


def hub_command(args: argparse.Namespace) -> int:
    return launch.run_hub(sandbox=not args.no_sandbox)


def agency_command(args: argparse.Namespace) -> int:
    return launch.run_agency(args.id, args.hub)


# relais init


def _add_init(commands: Commands) -> None:
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
        "--nats-server-tls",
        metavar="DIR",
        type=Path,
        help="copy the server certificate, its key and the CA's certificate to DIR (for nats-server)",
    )
    init.add_argument(
        "--nats-ca", metavar="FILE", type=Path, help="copy the CA's certificate (what clients check) to FILE"
    )
    init.add_argument(
        "--owner", metavar="UID", type=int, help="when run as root, hand every file written to this user"
    )
    init.add_argument(
        "--owner-of",
        nargs=2,
        action="append",
        metavar=("DIR", "UID"),
        help="when run as root, hand DIR and all in it to UID instead (repeatable; e.g. nats-server's store)",
    )
    init.set_defaults(run=init_command)


def init_command(args: argparse.Namespace) -> int:
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
        owners_of=[(Path(folder), int(uid)) for folder, uid in args.owner_of or []],
    )


# relais token create | revoke | list


def _add_token(commands: Commands) -> None:
    token = _actions(commands, "token", "manage API tokens")
    create = token.add_parser("create", help="print a new signed token")
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--agency", help="the agency an advisor token acts for (advisors only, required)")
    create.add_argument("--region", help="a moderator's region (moderators only; default: national)")
    create.add_argument("--subject", help="who the token is for (default: <role>@<agency or region>)")
    create.add_argument(
        "--ttl-days", type=int, default=30, help=f"days until it expires, 1-{tokens_cli.MAX_TTL_DAYS}"
    )
    create.set_defaults(run=token_create_command)
    revoke = token.add_parser("revoke", help="revoke a token by its id (agency nodes learn it from the hub)")
    revoke.add_argument("token_id")
    revoke.set_defaults(run=token_revoke_command)
    listing = token.add_parser(
        "list", help="list issued tokens (ids, roles, expiry, revocation; never the tokens)"
    )
    listing.set_defaults(run=token_list_command)


def token_create_command(args: argparse.Namespace) -> int:
    request = tokens_cli.TokenRequest(args.role, args.agency, args.region, args.subject, args.ttl_days)
    registry = config.data_dir() / "federation.db"
    return tokens_cli.create(config.data_dir() / "hub.db", config.token_key_path(), registry, request)


def token_revoke_command(args: argparse.Namespace) -> int:
    return tokens_cli.revoke(config.data_dir() / "hub.db", args.token_id)


def token_list_command(args: argparse.Namespace) -> int:
    return tokens_cli.list_tokens(config.data_dir() / "hub.db")


# relais pages import, relais credentials set


def _add_pages(commands: Commands) -> None:
    pages = _actions(commands, "pages", "the federation's page registry")
    imports = pages.add_parser("import", help="load a registry CSV (checked line by line; idempotent)")
    imports.add_argument("file", type=Path)
    imports.set_defaults(run=pages_import_command)


def pages_import_command(args: argparse.Namespace) -> int:
    return import_pages_file(args.file, config.data_dir() / "federation.db")


def _add_credentials(commands: Commands) -> None:
    credentials = _actions(commands, "credentials", "network credentials (encrypted at rest)")
    store = credentials.add_parser(
        "set", help="store one credential field, read from standard input, encrypted"
    )
    store.add_argument("ref", help="the credentials reference a page carries in the registry")
    store.add_argument("field", help="token, or identifier / password for Bluesky")
    store.set_defaults(run=credentials_set_command)


def credentials_set_command(args: argparse.Namespace) -> int:
    target = Path(os.environ.get("RELAIS_CREDENTIALS_FILE") or config.data_dir() / "credentials.json")
    return set_credential(target, args.ref, args.field)


# relais audit verify | export


def _add_audit(commands: Commands) -> None:
    audit = _actions(commands, "audit", "the hub's audit trail")
    verify = audit.add_parser("verify", help="check the whole hash chain; name the first broken entry")
    verify.add_argument("--db", type=Path, help="audit database (default: $RELAIS_DATA_DIR/hub.db)")
    verify.set_defaults(run=audit_verify_command)
    export = audit.add_parser("export", help="export entries as CSV or JSON lines, on standard output")
    export.add_argument("--db", type=Path, help="audit database (default: $RELAIS_DATA_DIR/hub.db)")
    export.add_argument("--since", help="only entries that occurred at or after this ISO-8601 time")
    export.add_argument("--format", choices=("csv", "jsonl"), default="jsonl")
    export.set_defaults(run=audit_export_command)


def audit_verify_command(args: argparse.Namespace) -> int:
    return audit_trail.verify(args.db or config.data_dir() / "hub.db")


def audit_export_command(args: argparse.Namespace) -> int:
    return audit_trail.export(args.db or config.data_dir() / "hub.db", args.since, args.format)


# relais backup, relais restore


def _add_volumes(command: argparse.ArgumentParser, what: str) -> None:
    command.add_argument("--volume", action="append", metavar="NAME=PATH", help=what)


def _add_backup(commands: Commands) -> None:
    backup = commands.add_parser("backup", help="back up databases, keys and JetStream while the system runs")
    backup.add_argument("dir", type=Path, help="a new (or empty) folder")
    backup.add_argument(
        "--no-bus", action="store_true", help="databases and files only (an agency node on its own host)"
    )
    _add_volumes(backup, "a folder of the deployment, by name (repeatable; default: data=$RELAIS_DATA_DIR)")
    backup.set_defaults(run=backup_command)


def _add_restore(commands: Commands) -> None:
    restore = commands.add_parser("restore", help="restore a backup into an empty deployment")
    restore.add_argument("dir", type=Path)
    restore.add_argument(
        "--part",
        choices=("files", "bus", "all"),
        default="all",
        help="files (databases, keys: before NATS starts), bus (streams, consumers: NATS running), or both",
    )
    restore.add_argument("--force", action="store_true", help="replace data the target already holds")
    _add_volumes(restore, "where each backed-up folder goes (repeatable; default: data=$RELAIS_DATA_DIR)")
    restore.add_argument(
        "--owner", metavar="UID", type=int, help="when run as root, hand every file restored to this user"
    )
    restore.set_defaults(run=restore_command)


def _volumes(args: argparse.Namespace) -> dict[str, Path] | None:
    try:
        return backups.parse_volumes(args.volume, config.data_dir())
    except ValueError as exc:
        print(f"relais: {exc}", file=sys.stderr)
        return None


def backup_command(args: argparse.Namespace) -> int:
    volumes = _volumes(args)
    if volumes is None:
        return 2
    url = None if args.no_bus else backups.hub_url(config.data_dir(), config.nats_url())
    return backups.backup(args.dir, volumes, url)


def restore_command(args: argparse.Namespace) -> int:
    volumes = _volumes(args)
    if volumes is None:
        return 2
    # Only a part with the bus signs in to NATS: before `--part files`, the password file it reads
    # (compose's restore job: in a fresh volume) is not there yet.
    url = None if args.part == "files" else backups.hub_url(config.data_dir(), config.nats_url())
    return backups.restore(args.dir, volumes, url, args.part, args.force, args.owner)


# relais inbox deadline


def _add_inbox(commands: Commands) -> None:
    inbox = _actions(commands, "inbox", "the inbox's service-level clock")
    deadline = inbox.add_parser(
        "deadline", help="print when a first response is due, in the calendar's zone, and nothing else"
    )
    deadline.add_argument(
        "--calendar", required=True, metavar="C", help="fr-metropole, fr-reunion, …, ma, or one configured"
    )
    deadline.add_argument(
        "--received",
        required=True,
        metavar="TIME",
        help="ISO 8601; without an offset, a wall-clock time in the calendar's zone",
    )
    deadline.add_argument(
        "--target", default="4h", metavar="DURATION", help="business time, like 4h, 90m or 1h30m (default 4h)"
    )
    deadline.set_defaults(run=inbox_deadline_command)


def inbox_deadline_command(args: argparse.Namespace) -> int:
    try:
        calendar = business_hours.load_calendars().get(args.calendar)
        received = business_hours.parse_instant(args.received, calendar)
        target = business_hours.parse_duration(args.target)
        due = business_hours.deadline(calendar, received, target)
    except (ValueError, LookupError, OverflowError) as exc:
        print(f"relais: {exc}", file=sys.stderr)
        return 2
    print(business_hours.format_instant(due))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
