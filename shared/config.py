"""Settings every process reads the same way. Each service's own `Settings.from_env` builds on these."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

from shared.networks.options import DEFAULT_MAX_THREAD_PARTS, NetworkOptions

__all__ = [
    "data_dir",
    "env_flag",
    "env_int",
    "log_format",
    "nats_url",
    "network_options",
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
    """The bus's URL, with `RELAIS_NATS_USER` and the password read from `RELAIS_NATS_PASSWORD_FILE`
    when both are given (a password kept in a file stays out of the environment and `ps`)."""
    url = env.get("RELAIS_NATS_URL") or DEFAULT_NATS_URL
    user, password_file = env.get("RELAIS_NATS_USER"), env.get("RELAIS_NATS_PASSWORD_FILE")
    if not (user and password_file):
        return url
    password = Path(password_file).read_text(encoding="utf-8").strip()
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{quote(user, safe='')}:{quote(password, safe='')}@{rest.rpartition('@')[2]}"


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
