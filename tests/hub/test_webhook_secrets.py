"""The hub's webhook secrets file (services/hub/webhook_secrets.py) and the sandbox's copy of it
that `make run` writes (relais/system.py).

The policy: a missing file configures no webhook; a malformed one stops the hub with a message
naming the file and never a value in it; no repr shows a secret; `make run` writes the sandbox's
secrets (its Meta app, one token per Telegram page of the registry) owner-only, and never replaces
a file an operator wrote.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from relais.system import write_sandbox_webhook_secrets
from services.hub.settings import Settings
from services.hub.webhook_secrets import WebhookSecrets, load_webhook_secrets
from services.sandbox.webhooks import (
    SANDBOX_META_APP_SECRET,
    SANDBOX_META_VERIFY_TOKEN,
    sandbox_telegram_secret,
)
from tests.service_apps import service_apps

SECRET = "do-not-show-5c1e"


def test_a_missing_file_configures_nothing(tmp_path: Path) -> None:
    assert load_webhook_secrets(tmp_path / "absent.json") == WebhookSecrets()


def test_the_settings_read_the_file_named_or_the_default(tmp_path: Path) -> None:
    named = tmp_path / "elsewhere.json"
    named.write_text(json.dumps({"meta": {"app_secret": SECRET}}), encoding="utf-8")
    env = {"RELAIS_DATA_DIR": str(tmp_path / "var"), "RELAIS_WEBHOOK_SECRETS_FILE": str(named)}
    assert Settings.from_env(env).webhook_secrets.meta_app_secret == SECRET
    default = tmp_path / "var" / "keys" / "webhook-secrets.json"
    default.parent.mkdir(parents=True)
    default.write_text(json.dumps({"telegram": {"p": SECRET}}), encoding="utf-8")
    assert Settings.from_env({"RELAIS_DATA_DIR": str(tmp_path / "var")}).webhook_secrets.telegram == {
        "p": SECRET
    }


@pytest.mark.parametrize(
    "content",
    [
        f"not json {SECRET}",
        json.dumps([SECRET]),
        json.dumps({"meta": {"app_secret": 12, "verify_token": SECRET}}),
        json.dumps({"meta": SECRET}),
        json.dumps({"telegram": {"page": ""}, "meta": {"verify_token": SECRET}}),
        json.dumps({"telegram": [SECRET]}),
    ],
    ids=["not-json", "array", "secret-not-string", "meta-not-object", "empty-token", "telegram-not-object"],
)
def test_a_malformed_file_is_refused_without_showing_its_values(tmp_path: Path, content: str) -> None:
    path = tmp_path / "webhook-secrets.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError) as refused:
        load_webhook_secrets(path)
    assert str(path) in str(refused.value)
    assert SECRET not in str(refused.value)


def test_no_repr_shows_a_secret() -> None:
    secrets = WebhookSecrets(meta_app_secret=SECRET, meta_verify_token=SECRET, telegram={"p": SECRET})
    settings = Settings("nats://x", Path("var"), Path("k"), "127.0.0.1", 0, "json", webhook_secrets=secrets)
    assert SECRET not in repr(secrets) and SECRET not in repr(settings)


def test_make_run_writes_the_sandboxs_secrets_once_and_owner_only(tmp_path: Path) -> None:
    registry = tmp_path / "registry.csv"
    registry.write_text(
        "region,region_name,department,agency,agency_name,city,timezone,network,page,handle,credentials_ref,local_url\n"
        "r,R,69,lyon,Lyon,Lyon,Europe/Paris,telegram,lyon-telegram,@ft_lyon,sandbox/lyon-telegram,\n"
        "r,R,69,lyon,Lyon,Lyon,Europe/Paris,facebook,lyon-facebook,104857600123,sandbox/lyon-facebook,\n",
        encoding="utf-8",
    )
    target = tmp_path / "keys" / "webhook-secrets.json"
    assert write_sandbox_webhook_secrets(registry, target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    secrets = load_webhook_secrets(target)
    assert (secrets.meta_app_secret, secrets.meta_verify_token) == (
        SANDBOX_META_APP_SECRET,
        SANDBOX_META_VERIFY_TOKEN,
    )
    assert secrets.telegram == {"lyon-telegram": sandbox_telegram_secret("lyon-telegram")}
    target.write_text(json.dumps({"meta": {"app_secret": "the operator's"}}), encoding="utf-8")
    assert not write_sandbox_webhook_secrets(registry, target)
    assert load_webhook_secrets(target).meta_app_secret == "the operator's"


async def test_without_secrets_every_webhook_call_is_refused(
    tmp_path: Path,
    aiohttp_client: Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]],
) -> None:
    """No file: nothing to check a call against, so nothing is let through (an empty secret would
    otherwise match an empty signature or token)."""
    with service_apps(tmp_path, "lyon-part-dieu") as apps:
        client = await aiohttp_client(apps["hub"])
        empty_signature = "sha256=" + hmac.new(b"", b"{}", hashlib.sha256).hexdigest()
        meta = await client.post(
            "/webhooks/meta", data=b"{}", headers={"X-Hub-Signature-256": empty_signature}
        )
        assert (meta.status, (await meta.json())["error"]["code"]) == (401, "webhook_not_configured")
        handshake = await client.get(
            "/webhooks/meta", params={"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"}
        )
        assert handshake.status == 403
        telegram = await client.post(
            "/webhooks/telegram/lyon-part-dieu-telegram",
            json={"update_id": 1},
            headers={"X-Telegram-Bot-Api-Secret-Token": ""},
        )
        assert telegram.status == 401
