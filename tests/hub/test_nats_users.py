"""NATS users written by `relais init --nats-auth`, read by a real nats-server through an include,
and a new agency added later without a restart (write again, then SIGHUP: the server reloads)."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from relais.nats_auth import agency_permissions, write_server_auth
from relais.processes import ManagedProcess, ProcessSpec, nats_server_binary
from relais.system import hub_specs
from shared import bus, config
from tests.harness import free_port, nats_answer, system_ports


def agency_signs_in(auth: Path, agency: str, port: int) -> bool:
    # The way services read their password: RELAIS_NATS_USER and RELAIS_NATS_PASSWORD_FILE.
    env = {
        "RELAIS_NATS_URL": f"nats://127.0.0.1:{port}",
        "RELAIS_NATS_USER": f"agency-{agency}",
        "RELAIS_NATS_PASSWORD_FILE": str(auth / f"password-agency-{agency}"),
    }
    url = urlsplit(config.nats_url(env))
    answer = asyncio.run(nats_answer(port, unquote(url.username or ""), unquote(url.password or "")))
    return answer == "PONG"


def test_a_new_agency_signs_in_after_a_reload_and_its_password_survives(tmp_path: Path) -> None:
    auth = tmp_path / "auth"
    write_server_auth(auth, ["lyon-part-dieu"])
    port, monitor = free_port(), free_port()
    conf = tmp_path / "hub.conf"
    conf.write_text(f'listen: "127.0.0.1:{port}"\nhttp: "127.0.0.1:{monitor}"\ninclude "auth/auth.conf"\n')
    ready = f"http://127.0.0.1:{monitor}/healthz"
    server = ManagedProcess(
        ProcessSpec("nats", [nats_server_binary(), "-c", str(conf)], ready_url=ready), tmp_path / "logs"
    )
    server.start()
    server.wait_ready()
    try:
        lyon = (auth / "password-agency-lyon-part-dieu").read_text()
        assert agency_signs_in(auth, "lyon-part-dieu", port)
        write_server_auth(auth, ["lyon-part-dieu", "rennes-sud"])
        assert not agency_signs_in(auth, "rennes-sud", port)  # not until the reload

        assert server.proc is not None
        server.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while not agency_signs_in(auth, "rennes-sud", port):
            assert time.monotonic() < deadline, "the reloaded server never let the new agency in"
            time.sleep(0.2)
        assert (auth / "password-agency-lyon-part-dieu").read_text() == lyon
        assert (auth / "auth.conf").stat().st_mode & 0o077 == 0
    finally:
        server.stop()


def test_compose_and_relais_hub_give_each_agency_the_same_narrow_permissions(tmp_path: Path) -> None:
    agencies = ["lyon-part-dieu", "rennes-sud"]
    write_server_auth(tmp_path / "auth", agencies)  # `relais init --nats-auth` (compose)
    hub_specs(tmp_path / "var", system_ports(), None, sandbox=False, agencies=agencies)

    def permissions(conf: Path) -> dict[str, Any]:
        users = json.loads(conf.read_text())["authorization"]["users"]
        return {user["user"]: user.get("permissions") for user in users}

    compose = permissions(tmp_path / "auth" / "auth.conf")
    embedded = permissions(tmp_path / "var" / "nats" / "nats.conf")  # `relais hub` and `relais run`
    assert compose == embedded
    assert set(compose) == {"hub", "agency-lyon-part-dieu", "agency-rennes-sud"}
    lyon = compose["agency-lyon-part-dieu"]
    assert lyon["subscribe"] == {"allow": ["_INBOX_agency-lyon-part-dieu.>"]}
    # No stream or consumer may be created, changed, purged or listed, nor read but through its
    # consumers.
    for entry in lyon["publish"]["allow"]:
        assert "rennes" not in entry, entry
        assert not any(
            verb in entry for verb in (".CREATE.", "UPDATE", "DELETE", "PURGE", "DIRECT", "LIST", "NAMES")
        ), entry


@pytest.mark.parametrize("agency", ["lyon.part-dieu", "lyon*", "lyon>", "", "Lyon Part"])
def test_an_id_that_would_widen_a_permission_is_refused(agency: str) -> None:
    with pytest.raises(ValueError):
        agency_permissions(agency)


@pytest.mark.parametrize(
    "prefix", ["_INBOX", "_INBOX.lyon", "_INBOX_lyon.>", "_INBOX_*", "_INBOX_a b", "lyon"]
)
def test_an_inbox_prefix_must_be_one_token_of_its_own(prefix: str) -> None:
    with pytest.raises(ValueError):
        bus.BusClient("intake-lyon", prefix)
