"""`relais init` writes the sandbox's webhook secrets without importing the sandbox (the production
image has none): both must name the same values, or the hub refuses every webhook the sandbox sends."""

from __future__ import annotations

import json
from pathlib import Path

from relais import system
from services.hub.webhook_secrets import load_webhook_secrets
from services.sandbox import webhooks


def test_init_and_the_sandbox_sign_with_the_same_secrets(tmp_path: Path) -> None:
    registry = tmp_path / "registry.csv"
    registry.write_text(
        "agency,network,page,handle\nlyon,telegram,lyon-telegram,lyonbot\nlyon,x,lyon-x,lyon\n"
    )
    target = tmp_path / "keys" / "webhook-secrets.json"

    assert system.write_sandbox_webhook_secrets(registry, target)
    secrets = load_webhook_secrets(target)

    assert secrets.meta_app_secret == webhooks.SANDBOX_META_APP_SECRET
    assert secrets.meta_verify_token == webhooks.SANDBOX_META_VERIFY_TOKEN
    assert dict(secrets.telegram) == {"lyon-telegram": webhooks.sandbox_telegram_secret("lyon-telegram")}
    assert target.stat().st_mode & 0o777 == 0o600


def test_an_operators_webhook_secrets_are_never_replaced(tmp_path: Path) -> None:
    registry = tmp_path / "registry.csv"
    registry.write_text("agency,network,page,handle\nlyon,telegram,lyon-telegram,lyonbot\n")
    target = tmp_path / "webhook-secrets.json"
    target.write_text(json.dumps({"meta": {"app_secret": "operator's", "verify_token": "theirs"}}))

    assert not system.write_sandbox_webhook_secrets(registry, target)
    assert load_webhook_secrets(target).meta_app_secret == "operator's"
