"""The whole Relais system as local processes: what `relais run` starts, and in which order."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from relais.nats_auth import HUB_USER, agency_user, authorization, load_or_create_passwords, url_for
from relais.processes import ProcessSpec, nats_spec, service_spec
from shared import config
from shared.advocacy.oauth import OAUTH_NETWORKS
from shared.config import token_public_key_path
from shared.secrets import SecretBox, load_or_create_key

DEMO_CSV = Path(__file__).resolve().parent.parent / "services" / "federation" / "data" / "demo_federation.csv"


@dataclass(frozen=True)
class Ports:
    nats: int
    nats_monitor: int
    hub: int
    intake: int  # the first agency's; the next ones follow by steps of 10 (8701, 8711, 8721)
    sandbox: int
    formatter: int
    dispatcher: int
    federation: int

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Ports:
        return cls(
            nats=config.env_int(env, "RELAIS_NATS_PORT", 4222),
            nats_monitor=config.env_int(env, "RELAIS_NATS_MONITOR_PORT", 8222),
            hub=config.env_int(env, "RELAIS_HUB_PORT", 8700),
            intake=config.env_int(env, "RELAIS_INTAKE_PORT", 8701),
            sandbox=config.env_int(env, "RELAIS_SANDBOX_PORT", 8702),
            formatter=config.env_int(env, "RELAIS_FORMATTER_PORT", 8703),
            dispatcher=config.env_int(env, "RELAIS_DISPATCHER_PORT", 8704),
            federation=config.env_int(env, "RELAIS_FEDERATION_PORT", 8705),
        )

    def intake_for(self, index: int) -> int:
        return self.intake + 10 * index


def agencies_in(csv_path: Path) -> list[str]:
    with csv_path.open(encoding="utf-8") as handle:
        return list(dict.fromkeys(row["agency"] for row in csv.DictReader(handle)))


def write_sandbox_credentials(csv_path: Path, target: Path, box: SecretBox | None = None) -> bool:
    """Credentials the sandbox accepts for every page of the registry (demo and tests only), sealed
    with the deployment's secrets key like any real credential. Only into an empty store (False
    otherwise): credentials an operator stored are never replaced."""
    if target.exists() and json.loads(target.read_text(encoding="utf-8") or "{}"):
        return False
    box = box or SecretBox(load_or_create_key({**os.environ, "RELAIS_DATA_DIR": str(target.parent)}))
    credentials: dict[str, dict[str, str]] = {}
    with csv_path.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            network, handle_ = row["network"], row["handle"]
            if network == "bluesky":
                credentials[row["credentials_ref"]] = {
                    "identifier": box.seal(handle_),
                    "password": box.seal(f"sbx-bluesky-{handle_}"),
                }
            elif network == "slideshare":  # the sandbox's app key, and the user's password
                credentials[row["credentials_ref"]] = {
                    "api_key": box.seal("sbx-slideshare-relais"),
                    "shared_secret": box.seal("sbx-secret-relais"),
                    "username": box.seal(handle_),
                    "password": box.seal(f"sbx-slideshare-{handle_}"),
                }
            else:
                credentials[row["credentials_ref"]] = {"token": box.seal(f"sbx-{network}-{handle_}")}
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(credentials, out, indent=2)
    return True


# The sandbox's webhook secrets, as services/sandbox/webhooks.py signs with them: written here too,
# like the sandbox's credentials above, because the production image's `init` has no sandbox to
# import (tests/test_sandbox_webhook_secrets.py holds the two to the same values).
SANDBOX_META_APP_SECRET = "sbx-meta-app-secret"
SANDBOX_META_VERIFY_TOKEN = "sbx-meta-verify-token"


def sandbox_telegram_secret(page: str) -> str:
    return f"sbx-telegram-{page}"


def write_sandbox_webhook_secrets(csv_path: Path, target: Path) -> bool:
    """The secrets the hub checks the sandbox's webhooks with (services/hub/webhook_secrets.py): its
    Meta app and one bot secret per Telegram page of the registry. Only when the file does not
    exist (False otherwise): an operator's own secrets are never replaced."""
    if target.exists():
        return False
    with csv_path.open(encoding="utf-8") as handle:
        telegram = {
            row["page"]: sandbox_telegram_secret(row["page"])
            for row in csv.DictReader(handle)
            if row["network"] == "telegram"
        }
    secrets = {
        "meta": {"app_secret": SANDBOX_META_APP_SECRET, "verify_token": SANDBOX_META_VERIFY_TOKEN},
        "telegram": telegram,
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(secrets, out, indent=2)
    return True


def write_sandbox_oauth_apps(target: Path, hub_url: str, sandbox_url: str) -> bool:
    """The sandbox's OAuth apps for advocates' accounts (services/hub/oauth_apps.py), as
    services/sandbox/oauth.py registers them: `sbx-<network>-client` / `-secret`, redirected to this
    hub's callback, every network reached at the sandbox. Rewritten while it holds only sandbox apps
    (the ports may change between runs); an operator's own file is never replaced (False)."""
    if target.exists():
        try:
            current = json.loads(target.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        if not isinstance(current, dict) or not all(
            isinstance(app, dict) and app.get("client_id") == f"sbx-{network}-client"
            for network, app in current.items()
        ):
            return False
    apps = {
        network: {
            "client_id": f"sbx-{network}-client",
            "client_secret": f"sbx-{network}-secret",
            "redirect_uri": f"{hub_url}/oauth/{network}/callback",
            "root": sandbox_url,
        }
        for network in OAUTH_NETWORKS
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(apps, out, indent=2)
    return True


def nats_passwords(data_dir: Path, agencies: list[str]) -> dict[str, str]:
    return load_or_create_passwords(data_dir / "nats" / "passwords.json", agencies)


def hub_nats_url(data_dir: Path, port: int) -> str:
    passwords = nats_passwords(data_dir, [])
    return url_for(HUB_USER, passwords[HUB_USER], "127.0.0.1", port)


def hub_specs(
    data_dir: Path,
    ports: Ports,
    csv_path: Path | None,
    log_format: str = "console",
    sandbox: bool = True,
    agencies: list[str] | None = None,
) -> list[ProcessSpec]:
    """The central side: NATS, federation, formatter, hub, dispatcher (and the sandbox networks).

    NATS gets one user for the hub's services and one restricted user per agency of the registry."""
    known = agencies if agencies is not None else (agencies_in(csv_path) if csv_path else [])
    passwords = nats_passwords(data_dir, known)
    base = {
        "RELAIS_DATA_DIR": str(data_dir),
        "RELAIS_NATS_URL": url_for(HUB_USER, passwords[HUB_USER], "127.0.0.1", ports.nats),
        "RELAIS_LOG_FORMAT": log_format,
        "RELAIS_SANDBOX_URL": f"http://127.0.0.1:{ports.sandbox}",
    }
    if csv_path is not None:
        base["RELAIS_FEDERATION_CSV"] = str(csv_path)
    specs = [nats_spec(data_dir, ports.nats, ports.nats_monitor, authorization(passwords))]
    if sandbox:
        # The sandbox's emulated webhooks go to this hub (services/sandbox/webhooks.py).
        sandbox_env = {**base, "RELAIS_SANDBOX_WEBHOOK_URL": f"http://127.0.0.1:{ports.hub}"}
        sandbox_spec = service_spec(
            "sandbox", "services.sandbox", sandbox_env, ports.sandbox, "RELAIS_SANDBOX_PORT"
        )
        specs.append(dataclasses.replace(sandbox_spec, stop_tier=1))  # the dispatcher may be calling it
    return [
        *specs,
        service_spec("federation", "services.federation", base, ports.federation, "RELAIS_FEDERATION_PORT"),
        service_spec("formatter", "services.formatter", base, ports.formatter, "RELAIS_FORMATTER_PORT"),
        service_spec("hub", "services.hub", base, ports.hub, "RELAIS_HUB_PORT"),
        service_spec("dispatcher", "services.dispatcher", base, ports.dispatcher, "RELAIS_DISPATCHER_PORT"),
    ]


def agency_spec(
    agency: str, hub_nats_url: str, port: int, data_dir: Path, public_key: Path, log_format: str = "console"
) -> ProcessSpec:
    """One agency node: its intake (SQLite outbox) talking to the hub's NATS over the agency's link."""
    env = {
        "RELAIS_AGENCY_ID": agency,
        "RELAIS_NATS_URL": hub_nats_url,
        "RELAIS_DATA_DIR": str(data_dir),
        "RELAIS_TOKEN_PUBLIC_KEY_FILE": str(public_key),
        "RELAIS_LOG_FORMAT": log_format,
    }
    spec = service_spec(f"intake-{agency}", "services.intake", env, port, "RELAIS_INTAKE_PORT")
    return dataclasses.replace(spec, ready_when_alive=True)  # it takes posts with its link down


def system_specs(
    data_dir: Path,
    ports: Ports,
    csv_path: Path,
    log_format: str = "console",
    agencies: list[str] | None = None,
    agency_nats_ports: dict[str, int] | None = None,
) -> list[ProcessSpec]:
    """Everything on one machine: the hub side, then one node per agency (default: every agency of
    the registry). `agency_nats_ports` lets a node reach the hub through another port (a proxy)."""
    public_key = token_public_key_path({**os.environ, "RELAIS_DATA_DIR": str(data_dir)})
    hub = hub_specs(data_dir, ports, csv_path, log_format)  # NATS users for every agency of the registry
    passwords = nats_passwords(data_dir, [])
    nats_ports = agency_nats_ports or {}
    nodes = []
    for index, agency in enumerate(agencies if agencies is not None else agencies_in(csv_path)):
        user = agency_user(agency)
        url = url_for(user, passwords[user], "127.0.0.1", nats_ports.get(agency, ports.nats))
        nodes.append(agency_spec(agency, url, ports.intake_for(index), data_dir, public_key, log_format))
    return [*hub, *nodes]
