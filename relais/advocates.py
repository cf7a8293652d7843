"""`relais advocates forget USER [--agency A]` (issue #16 item 5): erase the link between a person and
her advocate pseudonyms at the hub, her tokens and her enrolment on the bus, with one audit entry per
pseudonym (services/hub/advocates_forget.py). Run where the hub's database and NATS are reachable."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

import nats

from relais import backup as backups
from services.hub.advocates_forget import Forgotten, forget
from services.hub.store import open_store
from shared import config
from shared.bus import hub_client, server_options

__all__ = ["add_parser", "forget_command"]


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    advocates = commands.add_parser(
        "advocates", help="advisors who share the service's stories from their own accounts (#AvecPôleEmploi)"
    ).add_subparsers(dest="action", required=True)
    forget_ = advocates.add_parser(
        "forget",
        help="erase who a person's advocate pseudonyms are, her tokens and enrolment (one audit entry each)",
    )
    forget_.add_argument("user", metavar="USER", help="the advisor's user name")
    forget_.add_argument("--agency", metavar="A", help="only her pseudonyms of this agency")
    forget_.set_defaults(run=forget_command)


def _operator() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


async def _forget(user: str, agency: str | None) -> list[Forgotten]:
    client = hub_client("advocates")
    url = backups.hub_url(config.data_dir(), config.nats_url())
    nc = await nats.connect(
        **server_options(url),
        name=client.name,
        inbox_prefix=client.inbox_prefix,
        allow_reconnect=False,
        connect_timeout=5,
    )
    db = open_store(config.data_dir() / "hub.db")
    try:
        return await forget(db, nc.jetstream(), user, agency, _operator())
    finally:
        db.close()
        await nc.close()


def forget_command(args: argparse.Namespace) -> int:
    """`relais advocates forget`."""
    try:
        done = asyncio.run(_forget(args.user, args.agency))
    except Exception as exc:  # NATS unreachable, a stream missing: nothing half-said about a person
        print(f"relais: cannot forget: {type(exc).__name__}", file=sys.stderr)
        return 1
    if not done:
        print("no advocate pseudonym for this user: nothing to forget")
    for forgotten in done:
        print(
            f"forgot {forgotten.advocate} ({forgotten.agency}): link row deleted, "
            f"{forgotten.refresh_tokens} refresh token(s) and {forgotten.states} connection state(s)"
            " deleted, "
            f"{forgotten.purged} message(s) naming her purged, forgetting announced, one audit entry written"
        )
    return 0
