"""Hub settings, read once from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from services.hub.inbox_settings import InboxSettings
from services.hub.oauth_apps import OAuthApps, load_oauth_apps, oauth_apps_path
from services.hub.webhook_secrets import WebhookSecrets, load_webhook_secrets, webhook_secrets_path
from shared import config, secrets
from shared.networks.options import NetworkOptions
from shared.secrets import SecretBox


@dataclass(frozen=True)
class Settings:
    nats_url: str
    data_dir: Path
    token_key_file: Path
    host: str
    port: int
    log_format: str
    schedule_grace_minutes: int = 60
    network_options: NetworkOptions = field(default_factory=NetworkOptions)  # campaigns fit as posts do
    inbox: InboxSettings = field(default_factory=InboxSettings)
    webhook_secrets: WebhookSecrets = field(default_factory=WebhookSecrets)  # services/hub/webhook_secrets.py
    oauth_apps: OAuthApps = field(default_factory=OAuthApps)  # services/hub/oauth_apps.py
    # Encrypts advocates' refresh tokens and PKCE verifiers at rest (shared/secrets.py); b"": the key
    # file under the data directory, created on first use.
    secrets_key: bytes = field(default=b"", repr=False)
    secrets_key_file: Path | None = None  # RELAIS_SECRETS_KEY_FILE; None: <data dir>/keys/secrets.key

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        return cls(
            nats_url=config.nats_url(env),
            data_dir=config.data_dir(env),
            token_key_file=config.token_key_path(env),
            host=env.get("RELAIS_HOST") or "127.0.0.1",
            port=config.env_int(env, "RELAIS_HUB_PORT", 8700),
            log_format=config.log_format(env),
            schedule_grace_minutes=config.env_int(env, "RELAIS_SCHEDULE_GRACE_MINUTES", 60),
            network_options=config.network_options(env),
            inbox=InboxSettings.from_env(env),
            webhook_secrets=load_webhook_secrets(webhook_secrets_path(env)),
            oauth_apps=load_oauth_apps(oauth_apps_path(env)),
            secrets_key=env.get("RELAIS_SECRETS_KEY", "").encode(),
            secrets_key_file=secrets.key_path(env),
        )

    def secret_box(self) -> SecretBox:
        path = self.secrets_key_file or self.data_dir / "keys" / "secrets.key"
        return SecretBox(
            self.secrets_key or secrets.load_or_create_key({"RELAIS_SECRETS_KEY_FILE": str(path)})
        )

    @property
    def database(self) -> Path:
        return self.data_dir / "hub.db"
