"""Dispatcher settings, read once from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from shared import config
from shared.networks import KNOWN_NETWORKS

DEFAULT_SANDBOX_URL = "http://127.0.0.1:8702"


@dataclass(frozen=True)
class Settings:
    nats_url: str
    data_dir: Path
    credentials_file: Path
    api_urls: dict[str, str] = field(default_factory=dict)
    host: str = "127.0.0.1"
    port: int = 8704
    log_format: str = "console"
    concurrency: int = 32

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        data_dir = config.data_dir(env)
        # Every network points at the sandbox unless its own API root is given.
        sandbox = env.get("RELAIS_SANDBOX_URL") or DEFAULT_SANDBOX_URL
        api_urls = {n: env.get(f"RELAIS_API_URL_{n.upper()}") or sandbox for n in KNOWN_NETWORKS}
        return cls(
            nats_url=config.nats_url(env),
            data_dir=data_dir,
            credentials_file=Path(env.get("RELAIS_CREDENTIALS_FILE") or data_dir / "credentials.json"),
            api_urls=api_urls,
            host=env.get("RELAIS_HOST") or "127.0.0.1",
            port=config.env_int(env, "RELAIS_DISPATCHER_PORT", 8704),
            log_format=config.log_format(env),
            concurrency=config.env_int(env, "RELAIS_DISPATCHER_CONCURRENCY", 32),
        )

    @property
    def database(self) -> Path:
        return self.data_dir / "dispatcher.db"
