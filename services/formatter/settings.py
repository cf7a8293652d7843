"""Formatter settings, read once from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from shared import config


@dataclass(frozen=True)
class Settings:
    nats_url: str
    host: str
    port: int
    log_format: str
    require_alt_text: bool = True  # refuse posts whose media lack alt text (as intake does)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        return cls(
            nats_url=config.nats_url(env),
            host=env.get("RELAIS_HOST") or "127.0.0.1",
            port=config.env_int(env, "RELAIS_FORMATTER_PORT", 8703),
            log_format=config.log_format(env),
            require_alt_text=_flag(env, "RELAIS_REQUIRE_ALT_TEXT", True),
        )


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    """`true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`), read as intake reads it."""
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be true or false, got {raw!r}")
