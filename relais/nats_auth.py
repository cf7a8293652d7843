"""Who may do what on the hub's NATS: the hub's services may do anything; each agency node only
publishes its own posts, refusals, heartbeats and inbox assignments, fills its own media bucket,
reads through its own consumers (the hub creates both; each consumer filtered on the agency's subjects), and
receives on its own inbox prefix only. So agency A can neither publish as agency B, nor read B's news,
nor receive what the server sends anyone else (every reply and JetStream delivery travels on
the receiver's inbox), nor create or change any stream or consumer.

Passwords are generated once per deployment and kept in a 0600 file beside the NATS store
(`nats.md` recommends nkeys or JWTs with TLS across real networks; the allow-lists stay the same).
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import quote

from services.intake.media_relay import media_publish_permissions
from shared.advocacy.accounts import connect_subject
from shared.agency_consumers import agency_consumers
from shared.bus import HUB_USER, agency_client, agency_user
from shared.ids import is_slug
from shared.targeting import CAMPAIGN_AGENCY

__all__ = [
    "HUB_USER",
    "agency_permissions",
    "agency_user",
    "authorization",
    "load_or_create_passwords",
    "url_for",
    "write_server_auth",
]


def agency_permissions(agency: str) -> dict[str, Any]:
    """The whole allow-list of an agency's user; anything not listed is refused."""
    if not is_slug(agency):  # a '.', '*' or '>' in an id would widen every entry below
        raise ValueError(f"not an agency id: {agency!r}")
    if agency == CAMPAIGN_AGENCY:  # `posts.hub.*` are the hub's campaigns, across agencies
        raise ValueError(f"{agency!r} is reserved for campaigns written at the hub")
    publish = [f"posts.{agency}.*", f"security.{agency}.*", f"agencies.{agency}.heartbeat"]
    # Of the inbox, the node only says who answers its conversations and asks to hide an item (the hub
    # checks and orders it): what people sent (`received`), escalations (`escalated`), orders to hide
    # (`hide`) and their outcomes (`hidden`) are the hub side's to write.
    publish += [f"inbox.{agency}.*.assigned", f"inbox.{agency}.*.hide_requested"]
    # Of advocacy (#16), the node says who opted in or out, who disconnected, and a Bluesky app password
    # sealed for the dispatcher; `connected` (OAuth tokens), `status` and `forgotten` are the hub side's.
    # It asks the hub for an authorisation URL on its own connect subject (core request, reply on its
    # inbox prefix).
    node_events = ("enrolled", "opted_out", "disconnected", "app_password")
    publish += [f"advocacy.{agency}.*.{event}" for event in node_events]
    publish += [connect_subject(agency)]
    # Attachments go to the agency's own object store before their post.
    publish += media_publish_permissions(agency)
    # Its consumers are the hub's to create (no CONSUMER.CREATE: the body could set a push
    # delivery to any subject): it looks them up, fetches and acknowledges.
    for spec in agency_consumers(agency):
        publish += [
            f"$JS.API.CONSUMER.INFO.{spec.stream}.{spec.durable}",  # pull_subscribe looks it up first
            f"$JS.API.CONSUMER.MSG.NEXT.{spec.stream}.{spec.durable}",
            f"$JS.ACK.{spec.stream}.{spec.durable}.>",  # ack, nak, term of what it fetched
        ]
    # Every reply and delivery to this node comes on its own prefix (`shared.bus.agency_client`).
    inbox = f"{agency_client(agency).inbox_prefix}.>"
    return {"publish": {"allow": publish}, "subscribe": {"allow": [inbox]}}


def load_or_create_passwords(path: Path, agencies: list[str]) -> dict[str, str]:
    """User → password, adding any agency not seen before."""
    passwords: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    for user in [HUB_USER, *(agency_user(a) for a in agencies)]:
        passwords.setdefault(user, secrets.token_urlsafe(24))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(passwords, out, indent=2)
    return passwords


def authorization(passwords: dict[str, str]) -> dict[str, Any]:
    users: list[dict[str, Any]] = [{"user": HUB_USER, "password": passwords[HUB_USER]}]
    for user, password in sorted(passwords.items()):
        if user.startswith("agency-"):
            users.append({"user": user, "password": password, "permissions": agency_permissions(user[7:])})
    return {"users": users}


def url_for(user: str, password: str, host: str, port: int) -> str:
    return f"nats://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}"


def write_server_auth(directory: Path, agencies: list[str]) -> None:
    """For a deployment whose nats-server runs apart (compose): `auth.conf`, the users block its
    configuration includes, and one `password-<user>` file per user for the services to read
    (`RELAIS_NATS_PASSWORD_FILE`). Passwords already there are kept."""
    passwords = load_or_create_passwords(directory / "passwords.json", agencies)
    _write_private(directory / "auth.conf", json.dumps({"authorization": authorization(passwords)}, indent=2))
    for user, password in passwords.items():
        _write_private(directory / f"password-{user}", password)


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
