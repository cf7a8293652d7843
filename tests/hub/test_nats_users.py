"""NATS users written by `relais init --nats-auth`, read by a real nats-server through an include,
and a new agency added later without a restart (write again, then SIGHUP: the server reloads)."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

from relais.nats_auth import write_server_auth
from relais.processes import ManagedProcess, ProcessSpec, nats_server_binary
from shared import config
from tests.harness import free_port, nats_answer


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
