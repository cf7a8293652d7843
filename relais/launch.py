"""`relais run`, `relais hub` and `relais agency`: start the processes of this machine and supervise
them until a signal stops them."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from relais import tokens as tokens_cli
from relais.banner import banner_text
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
    write_sandbox_oauth_apps,
    write_sandbox_webhook_secrets,
)
from services.hub.oauth_apps import oauth_apps_path
from services.hub.store import open_store
from services.hub.webhook_secrets import webhook_secrets_path
from shared import config
from shared.accounts import create_user, hash_password, set_password_hash, user
from shared.tokens import issue_token, load_or_create_private_key

__all__ = ["DEMO_MODERATOR", "run_agency", "run_hub", "run_system"]

DEMO_MODERATOR = "moderatrice"
DEMO_ADVISOR = "conseillere"


def _registry() -> Path:
    return Path(os.environ.get("RELAIS_FEDERATION_CSV") or DEMO_CSV)


def _sandbox_addresses(ports: Ports) -> tuple[str, str]:
    """(the hub's address, the sandbox's), as the sandbox redirects advisors to the hub's callback."""
    return f"http://127.0.0.1:{ports.hub}", f"http://127.0.0.1:{ports.sandbox}"


def run_system() -> int:
    data_dir, ports, csv_path = config.data_dir(), Ports.from_env(), _registry()
    key = load_or_create_private_key(config.token_key_path())
    write_sandbox_credentials(csv_path, data_dir / "credentials.json")
    write_sandbox_webhook_secrets(csv_path, webhook_secrets_path())
    write_sandbox_oauth_apps(oauth_apps_path(), *_sandbox_addresses(ports))
    specs = system_specs(data_dir, ports, csv_path, config.log_format())
    processes = [ManagedProcess(spec, data_dir / "logs") for spec in specs]
    agencies = agencies_in(csv_path)

    def banner() -> None:
        advisor = issue_token(key, role="advisor", subject=f"conseiller@{agencies[0]}", agency=agencies[0])
        admin = issue_token(key, role="admin", subject="admin@hub")
        for token in (advisor, admin):
            tokens_cli.record(data_dir / "hub.db", token, key)
        moderator = (DEMO_MODERATOR, _demo_user(data_dir, DEMO_MODERATOR, "moderator", None))
        signs_in = (DEMO_ADVISOR, _demo_user(data_dir, DEMO_ADVISOR, "advisor", agencies[0]))
        print(banner_text(ports, agencies, advisor, admin, data_dir, moderator, signs_in), flush=True)

    return supervise(processes, banner, data_dir)


def run_hub(sandbox: bool) -> int:
    data_dir, ports, csv_path = config.data_dir(), Ports.from_env(), _registry()
    load_or_create_private_key(config.token_key_path())
    if sandbox:
        write_sandbox_credentials(csv_path, data_dir / "credentials.json")
        write_sandbox_webhook_secrets(csv_path, webhook_secrets_path())
        write_sandbox_oauth_apps(oauth_apps_path(), *_sandbox_addresses(ports))
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


def _demo_user(data_dir: Path, name: str, role: str, agency: str | None) -> str:
    """A demo account (the national moderator of the dashboard, an advisor of the first agency,
    whose node receives it from the hub within seconds), with a fresh password each run."""
    password = secrets.token_urlsafe(12)
    db = open_store(data_dir / "hub.db")
    try:
        if user(db, name):
            set_password_hash(db, name, hash_password(password))
        else:
            create_user(db, name, role, None, password, agency=agency)
    finally:
        db.close()
    return password
