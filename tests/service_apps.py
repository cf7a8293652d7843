"""Every service's real HTTP app, built as its process builds it, with no bus behind it: for tests
that walk the routers (the permission table, the OpenAPI documents)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aiohttp import web

from services.dispatcher.app import create_http_app as dispatcher_app
from services.dispatcher.media import MediaLibrary
from services.dispatcher.media_urls import MediaUrlSigner
from services.dispatcher.store import Ledger
from services.dispatcher.store import open_store as open_ledger
from services.hub.app import create_app as hub_app
from services.hub.settings import Settings as HubSettings
from services.hub.store import open_store as open_hub_store
from services.intake.app import create_app as intake_app
from services.intake.settings import Settings as IntakeSettings
from shared import bus
from shared.metrics import service_app
from shared.tokens import load_or_create_private_key

UNREACHABLE_NATS = "nats://127.0.0.1:9"


async def _ready() -> dict[str, bool]:
    return {"ok": True}


@contextmanager
def service_apps(root: Path, agency: str) -> Iterator[dict[str, web.Application]]:
    """hub, intake (of `agency`), dispatcher, federation and formatter, their files under `root`."""
    key_file = root / "keys" / "hub.pem"
    load_or_create_private_key(key_file)
    public_key = key_file.with_name("hub.pub.pem")
    hub_db = open_hub_store(root / "hub.db")
    ledger_db = open_ledger(root / "ledger.db")
    hub_settings = HubSettings(UNREACHABLE_NATS, root, key_file, "127.0.0.1", 0, "console")
    intake_settings = IntakeSettings(
        agency=agency,
        nats_url=UNREACHABLE_NATS,
        data_dir=root,
        public_key_file=public_key,
        host="127.0.0.1",
        port=0,
        log_format="console",
    )
    library = MediaLibrary(public_url="http://x", signer=MediaUrlSigner(b"k" * 32))
    try:
        yield {
            "hub": hub_app(hub_settings, hub_db, bus.BusLink()),
            "intake": intake_app(intake_settings),
            "dispatcher": dispatcher_app(_ready, library, Ledger(ledger_db)),
            # federation and formatter serve health and metrics and nothing else
            "federation": service_app(_ready, public_key),
            "formatter": service_app(_ready, public_key),
        }
    finally:
        hub_db.close()
        ledger_db.close()
