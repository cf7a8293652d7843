"""`python -m services.sandbox` as a real process: serves, stops on SIGTERM, reports a busy port."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _environment(port: int, data_dir: Path) -> dict[str, str]:
    return {**os.environ, "RELAIS_SANDBOX_PORT": str(port), "RELAIS_DATA_DIR": str(data_dir)}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_busy_port_is_reported_in_one_line_with_status_2(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "services.sandbox"],
            cwd=ROOT,
            env=_environment(port, tmp_path),
            capture_output=True,
            text=True,
            timeout=30,
        )

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"sandbox: port {port} is in use; set RELAIS_SANDBOX_PORT to a free port"
    ]


def test_serves_until_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "services.sandbox"],
        cwd=ROOT,
        env=_environment(port, tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                    health = json.load(response)
                break
            except OSError:
                assert time.monotonic() < deadline, "the sandbox did not start"
                time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert health == {"status": "ok"}
    assert process.returncode == 0
    events = [json.loads(line)["event"] for line in stderr.splitlines()]
    assert events == ["sandbox.listening", "sandbox.stopped"]
    assert (tmp_path / "sandbox.db").exists()
