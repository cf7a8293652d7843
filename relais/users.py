"""`relais users create` and `relais users disable`: people who sign in to the hub's dashboard, and
advisors, managed at the hub, who sign in at their agency's node (which gets a copy of the account,
the argon2 hash only, within seconds while the link is up).

The password is read from standard input when it is not a terminal (`printf '%s\\n' "$PW" | relais
users create …`, for scripts and deployments), otherwise asked twice without echo. It is stored as
an argon2 hash in the hub's database and never printed or logged.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import TextIO

from services.hub.store import open_store
from shared import config
from shared.accounts import ACCOUNT_ROLES, AccountError, create_user, disable_user

__all__ = ["add_parser", "create", "create_command", "disable", "disable_command", "read_password"]


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    users = commands.add_parser(
        "users", help="people who sign in to the hub's dashboard, and advisors at their agency's node"
    ).add_subparsers(dest="action", required=True)
    create_ = users.add_parser("create", help="create a user (password from stdin or a prompt)")
    create_.add_argument("--username", required=True)
    create_.add_argument("--role", required=True, choices=ACCOUNT_ROLES)
    create_.add_argument("--region", help="a regional moderator's region (default: national)")
    create_.add_argument("--agency", help="an advisor's agency (required for an advisor, refused otherwise)")
    create_.add_argument("--db", type=Path, help="hub database (default: $RELAIS_DATA_DIR/hub.db)")
    create_.set_defaults(run=create_command)
    disable_ = users.add_parser(
        "disable", help="disable a user and end their sessions (at the hub and nodes)"
    )
    disable_.add_argument("--username", required=True)
    disable_.add_argument("--db", type=Path, help="hub database (default: $RELAIS_DATA_DIR/hub.db)")
    disable_.set_defaults(run=disable_command)


def create_command(args: argparse.Namespace) -> int:
    """`relais users create`."""
    return create(args.db or config.data_dir() / "hub.db", args.username, args.role, args.region, args.agency)


def disable_command(args: argparse.Namespace) -> int:
    """`relais users disable`."""
    return disable(args.db or config.data_dir() / "hub.db", args.username)


def read_password(stdin: TextIO) -> str | None:
    """The password from a pipe (its first line), or typed twice at a terminal; None if they differ."""
    if not stdin.isatty():
        return stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    return first if getpass.getpass("Password again: ") == first else None


def create(
    database: Path,
    username: str,
    role: str,
    region: str | None,
    agency: str | None = None,
    stdin: TextIO = sys.stdin,
) -> int:
    password = read_password(stdin)
    if password is None:
        print("relais: the two passwords differ; nothing was created", file=sys.stderr)
        return 2
    db = open_store(database)
    try:
        create_user(db, username, role, region, password, agency)
    except AccountError as exc:
        print(f"relais: {exc}", file=sys.stderr)
        return 2
    finally:
        db.close()
    scope = region or agency
    where = f"agency {agency}'s node" if agency else "the hub"
    print(f"created {username} ({role}{', ' + scope if scope else ''}); sign in at {where}'s /login")
    return 0


def disable(database: Path, username: str) -> int:
    db = open_store(database)
    try:
        found = disable_user(db, username)
    finally:
        db.close()
    if not found:
        print(f"relais: no user {username}", file=sys.stderr)
        return 2
    print(f"disabled {username}; their sessions are closed")
    return 0
