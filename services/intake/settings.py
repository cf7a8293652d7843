"""Intake (agency node) settings, read once from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from shared import config
from shared.ids import is_slug
from shared.networks.options import NetworkOptions

MAX_BODY_BYTES = 1024 * 1024
# The composer's drafts (services/intake/drafts.py): a draft's body as compact UTF-8 JSON, and how
# many drafts one author keeps.
MAX_DRAFT_BYTES = 64 * 1024
MAX_DRAFTS = 200
# The largest attachment any network takes (a Bluesky video, 300 MB): each network's own cap is
# checked when a post names the file.
DEFAULT_MEDIA_MAX_BYTES = 300_000_000


@dataclass(frozen=True)
class Settings:
    agency: str
    nats_url: str
    data_dir: Path
    public_key_file: Path
    host: str
    port: int
    log_format: str
    require_alt_text: bool = True
    media_max_bytes: int = DEFAULT_MEDIA_MAX_BYTES
    network_options: NetworkOptions = field(default_factory=NetworkOptions)  # the most thread parts

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        agency = env.get("RELAIS_AGENCY_ID", "")
        if not is_slug(agency):
            raise ValueError("RELAIS_AGENCY_ID must name this node's agency (lower-case letters, digits, -)")
        return cls(
            agency=agency,
            nats_url=config.nats_url(env),
            data_dir=config.data_dir(env),
            public_key_file=config.token_public_key_path(env),
            host=env.get("RELAIS_HOST") or "127.0.0.1",
            port=config.env_int(env, "RELAIS_INTAKE_PORT", 8701),
            log_format=config.log_format(env),
            require_alt_text=config.env_flag(env, "RELAIS_REQUIRE_ALT_TEXT", True),
            media_max_bytes=config.env_int(env, "RELAIS_MEDIA_MAX_BYTES", DEFAULT_MEDIA_MAX_BYTES),
            network_options=config.network_options(env),
        )

    @property
    def database(self) -> Path:
        return self.data_dir / f"intake-{self.agency}.db"

    @property
    def media_dir(self) -> Path:
        """Uploaded attachments, one file per media id, kept beside the outbox that names them."""
        return self.data_dir / "media"
