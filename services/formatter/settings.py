"""Formatter settings, read once from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from shared import config
from shared.networks.options import NetworkOptions


@dataclass(frozen=True)
class Settings:
    nats_url: str
    host: str
    port: int
    log_format: str
    require_alt_text: bool = True  # refuse posts whose media lack alt text (as intake does)
    network_options: NetworkOptions = field(default_factory=NetworkOptions)  # as intake's, to agree

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        return cls(
            nats_url=config.nats_url(env),
            host=env.get("RELAIS_HOST") or "127.0.0.1",
            port=config.env_int(env, "RELAIS_FORMATTER_PORT", 8703),
            log_format=config.log_format(env),
            require_alt_text=config.env_flag(env, "RELAIS_REQUIRE_ALT_TEXT", True),
            network_options=config.network_options(env),
        )
