"""Settings every process reads the same way. Each service's own `Settings.from_env` builds on these."""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

from shared.networks.options import DEFAULT_MAX_THREAD_PARTS, NetworkOptions

__all__ = [
    "data_dir",
    "env_flag",
    "env_int",
    "log_format",
    "nats_servers",
    "nats_tls",
    "nats_url",
    "network_options",
    "stream_replicas",
    "token_key_path",
]

DEFAULT_NATS_URL = "nats://127.0.0.1:4222"


def env_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc


def env_flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    """`true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`); unset or empty means `default`."""
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be true or false, got {raw!r}")


def network_options(env: Mapping[str, str] = os.environ) -> NetworkOptions:
    """The network rules' settings, the same for intake, preview and formatter so that they agree."""
    most = env_int(env, "RELAIS_MAX_THREAD_PARTS", DEFAULT_MAX_THREAD_PARTS)
    if most < 1:
        raise ValueError(f"RELAIS_MAX_THREAD_PARTS must be at least 1, got {most}")
    return NetworkOptions(max_thread_parts=most)


def data_dir(env: Mapping[str, str] = os.environ) -> Path:
    return Path(env.get("RELAIS_DATA_DIR") or "var")


def nats_url(env: Mapping[str, str] = os.environ) -> str:
    """The bus's URL, or several comma-separated (the nodes of a cluster: `nats_servers` splits
    them), each given `RELAIS_NATS_USER` and the password read from `RELAIS_NATS_PASSWORD_FILE` when
    both are set (a password kept in a file stays out of the environment and `ps`)."""
    url = env.get("RELAIS_NATS_URL") or DEFAULT_NATS_URL
    servers = nats_servers(url)
    user, password_file = env.get("RELAIS_NATS_USER"), env.get("RELAIS_NATS_PASSWORD_FILE")
    if not (user and password_file):
        return ",".join(servers)
    password = Path(password_file).read_text(encoding="utf-8").strip()
    credentials = f"{quote(user, safe='')}:{quote(password, safe='')}"
    return ",".join(
        f"{scheme}://{credentials}@{rest.rpartition('@')[2]}"
        for scheme, _, rest in (server.partition("://") for server in servers)
    )


def nats_servers(url: str) -> list[str]:
    """The URLs of a comma-separated list (nats-py takes them as a list and moves to the next node
    when one is lost)."""
    servers = [server.strip() for server in url.split(",") if server.strip()]
    if not servers or any("://" not in server for server in servers):
        raise ValueError(f"not a NATS URL or comma-separated list of them: {_hidden(url)!r}")
    schemes = {server.partition("://")[0] for server in servers}
    if len(schemes) > 1:  # one node in clear text would be handed the password the others protect
        raise ValueError(f"the NATS URLs mix {' and '.join(sorted(schemes))}: use tls:// for every node")
    return servers


def _hidden(url: str) -> str:
    """A URL list for an error message, without any password in it."""
    return ",".join(server.rpartition("@")[2] for server in url.split(","))


def nats_tls(url: str, env: Mapping[str, str] = os.environ) -> ssl.SSLContext | None:
    """How the certificates of the servers at `url` are checked: against `RELAIS_NATS_CA_FILE` (a
    deployment's own CA, made by `relais init --nats-tls`), else the system's trusted roots; None
    when the URLs are plain `nats://` and no CA is given. A CA file with plain URLs is refused
    rather than ignored: the operator meant the link to be encrypted."""
    ca_file = env.get("RELAIS_NATS_CA_FILE")
    tls = nats_servers(url)[0].startswith("tls://")
    if ca_file and not tls:
        raise ValueError("RELAIS_NATS_CA_FILE is set but RELAIS_NATS_URL is not tls://")
    if not tls:
        return None
    return ssl.create_default_context(cafile=ca_file or None)


MAX_REPLICAS = 5  # JetStream's limit


def stream_replicas(env: Mapping[str, str] = os.environ) -> int:
    """How many copies of every stream, key-value bucket and object store the cluster keeps
    (`RELAIS_STREAM_REPLICAS`): 1 on one nats-server, 3 on a 3-node cluster (a node may be lost
    without losing a write or stopping the bus)."""
    replicas = env_int(env, "RELAIS_STREAM_REPLICAS", 1)
    if not 1 <= replicas <= MAX_REPLICAS:
        raise ValueError(f"RELAIS_STREAM_REPLICAS must be between 1 and {MAX_REPLICAS}, got {replicas}")
    return replicas


def log_format(env: Mapping[str, str] = os.environ) -> str:
    return env.get("RELAIS_LOG_FORMAT") or "console"


def token_key_path(env: Mapping[str, str] = os.environ) -> Path:
    """The hub's private signing key; its public half sits beside it as `<name>.pub.pem`."""
    return Path(env.get("RELAIS_TOKEN_KEY_FILE") or data_dir(env) / "keys" / "hub-token-key.pem")


def token_public_key_path(env: Mapping[str, str] = os.environ) -> Path:
    explicit = env.get("RELAIS_TOKEN_PUBLIC_KEY_FILE")
    if explicit:
        return Path(explicit)
    private = token_key_path(env)
    return private.with_name(private.stem + ".pub.pem")
