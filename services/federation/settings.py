"""Federation settings, read once from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from shared import config
from shared.business_hours import DEFAULT_CALENDARS, Calendars, load_calendars


@dataclass(frozen=True)
class Settings:
    nats_url: str
    data_dir: Path
    pages_csv: Path | None
    host: str
    port: int
    log_format: str
    calendars: Calendars = DEFAULT_CALENDARS  # RELAIS_CALENDARS_FILE: the regions' and agencies' calendars

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        csv_path = env.get("RELAIS_FEDERATION_CSV")
        return cls(
            nats_url=config.nats_url(env),
            data_dir=config.data_dir(env),
            pages_csv=Path(csv_path) if csv_path else None,
            host=env.get("RELAIS_HOST") or "127.0.0.1",
            port=config.env_int(env, "RELAIS_FEDERATION_PORT", 8705),
            log_format=config.log_format(env),
            calendars=load_calendars(env),
        )

    @property
    def database(self) -> Path:
        return self.data_dir / "federation.db"
