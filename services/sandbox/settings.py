"""Sandbox settings, read once from the environment.

| variable | default | meaning |
|---|---|---|
| `RELAIS_HOST` | `127.0.0.1` | interface the emulators listen on (as every service) |
| `RELAIS_SANDBOX_PORT` | `8702` | port the emulators listen on |
| `RELAIS_DATA_DIR` | `var` | directory holding `sandbox.db` |
| `RELAIS_SANDBOX_RATE_LIMITS` | `on` | `off` counts calls but never answers 429 (benchmarks) |
| `RELAIS_SANDBOX_WEBHOOK_URL` | none | the hub's address, where the emulated webhooks are sent |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Settings"]


@dataclass(frozen=True)
class Settings:
    """Where the sandbox listens and where it keeps what the fake accounts received."""

    host: str = "127.0.0.1"
    port: int = 8702
    data_dir: Path = Path("var")
    rate_limits: bool = True
    webhook_url: str = ""  # the hub's base URL (services/sandbox/webhooks.py)

    @property
    def db_path(self) -> Path:
        return self.data_dir / "sandbox.db"

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        raw_port = env.get("RELAIS_SANDBOX_PORT", "8702")
        try:
            port = int(raw_port)
        except ValueError:
            raise ValueError(f"RELAIS_SANDBOX_PORT must be a port number, not {raw_port!r}") from None
        if not 0 <= port <= 65535:
            raise ValueError(f"RELAIS_SANDBOX_PORT must be between 0 and 65535, not {port}")
        limits = env.get("RELAIS_SANDBOX_RATE_LIMITS", "on").strip().lower()
        if limits not in ("on", "off"):
            raise ValueError(f"RELAIS_SANDBOX_RATE_LIMITS must be on or off, not {limits!r}")
        return cls(
            host=env.get("RELAIS_HOST") or "127.0.0.1",
            port=port,
            data_dir=Path(env.get("RELAIS_DATA_DIR", "var")),
            rate_limits=limits == "on",
            webhook_url=env.get("RELAIS_SANDBOX_WEBHOOK_URL", ""),
        )
