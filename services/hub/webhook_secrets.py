"""The secrets the networks' webhooks are checked with, read once from the hub's secrets file.

`RELAIS_WEBHOOK_SECRETS_FILE` (default `<data dir>/keys/webhook-secrets.json`, beside the hub's
token-signing key, mode 0600 like every file the services create) holds:

    {"meta": {"app_secret": "…", "verify_token": "…"},
     "telegram": {"<page id>": "<the secret_token given to setWebhook>"}}

A missing file configures no webhook: every call to the webhook routes is then refused. No value
ever appears in a log, an error or a repr (errors name the file and the key, never what is in it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from shared import config
from shared.private_files import read_private_json

__all__ = ["WebhookSecrets", "load_webhook_secrets", "webhook_secrets_path"]


@dataclass(frozen=True)
class WebhookSecrets:
    meta_app_secret: str = field(default="", repr=False)  # signs each POST (X-Hub-Signature-256)
    meta_verify_token: str = field(default="", repr=False)  # the subscription handshake's token
    telegram: Mapping[str, str] = field(default_factory=dict, repr=False)  # page id → secret_token


def webhook_secrets_path(env: Mapping[str, str] = os.environ) -> Path:
    explicit = env.get("RELAIS_WEBHOOK_SECRETS_FILE")
    return Path(explicit) if explicit else config.data_dir(env) / "keys" / "webhook-secrets.json"


def load_webhook_secrets(path: Path) -> WebhookSecrets:
    """The secrets of `path`, or none when it does not exist; ValueError for a malformed file."""
    raw = read_private_json(path)
    if raw is None:
        return WebhookSecrets()
    meta = raw.get("meta") or {}
    telegram = raw.get("telegram") or {}
    meta_keys = ("app_secret", "verify_token")
    if not isinstance(meta, dict) or not all(isinstance(meta.get(key, ""), str) for key in meta_keys):
        raise ValueError(f'{path}: "meta" must be {{"app_secret": string, "verify_token": string}}')
    if not isinstance(telegram, dict) or not all(isinstance(v, str) and v for v in telegram.values()):
        raise ValueError(f'{path}: "telegram" must map each page id to its non-empty secret token')
    return WebhookSecrets(
        meta_app_secret=meta.get("app_secret", ""),
        meta_verify_token=meta.get("verify_token", ""),
        telegram=MappingProxyType(dict(telegram)),
    )
