"""`relais init`: what a deployment needs before its services start, each secret written where only
the services of its role can reach it. docker-compose.yml mounts one volume per role (the hub's
private key, its public half, the network credentials, each NATS user's password, nats-server's
users block), and `init` fills them. It creates what is missing and never replaces what exists
(keys, passwords, an operator's credentials), so every `up` may run it again. Run as root, it hands
each folder to the user of the services reading it (`--owner`, `--owner-of`): fresh volumes belong to
root, and a container running as another image's user (nats-server's) finds its own folders.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from relais import nats_tls
from relais.nats_auth import write_server_auth
from relais.system import agencies_in, write_sandbox_credentials, write_sandbox_webhook_secrets
from services.hub.webhook_secrets import webhook_secrets_path
from shared import config
from shared.private_files import write_private
from shared.secrets import key_path
from shared.tokens import load_or_create_private_key, public_path

__all__ = ["hand_over", "initialise"]


def initialise(
    *,
    sandbox_registry: Path | None = None,
    nats_auth: tuple[Path, Path] | None = None,
    nats_server_config: Path | None = None,
    nats_passwords: list[tuple[str, Path]] | None = None,
    token_public_key: Path | None = None,
    tls: tuple[Path, list[str]] | None = None,
    tls_server: Path | None = None,
    tls_ca: Path | None = None,
    owner: int | None = None,
    owners_of: list[tuple[Path, int]] | None = None,
) -> int:
    """Write everything asked for; 2 (with a message) if an export needs `--nats-auth` or
    `--nats-tls`."""
    key_file = config.token_key_path()
    load_or_create_private_key(key_file)
    written = [key_file.parent]
    if sandbox_registry is not None:
        # Demo credentials only into an empty store: an operator's credentials are never replaced.
        target = config.data_dir() / "credentials.json"
        write_sandbox_credentials(sandbox_registry, target)
        written += [target.parent, key_path().parent]
        # …and the sandbox's webhook secrets for the hub, where it reads them, never over an operator's.
        webhooks = webhook_secrets_path()
        write_sandbox_webhook_secrets(sandbox_registry, webhooks)
        written.append(webhooks.parent)
    if (nats_server_config or nats_passwords) and nats_auth is None:
        print("relais: --nats-server-config and --nats-password need --nats-auth", file=sys.stderr)
        return 2
    if nats_auth is not None:
        users_dir, registry = nats_auth
        write_server_auth(users_dir, agencies_in(registry))
        written.append(users_dir)
        exports = [(users_dir / "auth.conf", nats_server_config)] if nats_server_config else []
        exports += [(users_dir / f"password-{user}", target) for user, target in nats_passwords or []]
        for source, target in exports:
            if not source.exists():
                print(f"relais: no NATS user for {source.name}", file=sys.stderr)
                return 2
            write_private(target, source.read_bytes())
            written.append(target.parent)
    if token_public_key is not None:
        write_private(token_public_key, public_path(key_file).read_bytes())
        written.append(token_public_key.parent)
    if (tls_server or tls_ca) and tls is None:
        print("relais: --nats-server-tls and --nats-ca need --nats-tls", file=sys.stderr)
        return 2
    if tls is not None:
        tls_dir, names = tls
        nats_tls.write_tls(tls_dir, names)
        written.append(tls_dir)
        # nats-server gets its certificate and key, and the CA's certificate to check the other
        # nodes' routes; clients get the CA's certificate alone.
        exports = [(tls_dir / nats_tls.CA_CERT, tls_ca)] if tls_ca else []
        if tls_server is not None:
            exports += [
                (tls_dir / name, tls_server / name)
                for name in (nats_tls.SERVER_CERT, nats_tls.SERVER_KEY, nats_tls.CA_CERT)
            ]
        for source, target in exports:
            write_private(target, source.read_bytes())
            written.append(target.parent)
    # A folder given to a user of its own is not handed to `owner` too (nats-server's users block).
    others = {directory.resolve(): uid for directory, uid in owners_of or []}
    if owner is not None:
        hand_over([d for d in written if d.resolve() not in others], owner)
    for directory, uid in others.items():
        directory.mkdir(parents=True, exist_ok=True)
        hand_over([directory], uid)
    return 0


def hand_over(directories: list[Path], owner: int) -> None:
    """Give each folder and everything in it to `owner`. Only root can (compose runs `init` and the
    restore job as root, since fresh volumes belong to root); anyone else has created them as their
    own already."""
    if os.geteuid() != 0:
        return
    for directory in dict.fromkeys(directories):
        shutil.chown(directory, owner, owner)
        for parent, folders, files in os.walk(directory):
            for name in folders + files:
                shutil.chown(os.path.join(parent, name), owner, owner)
