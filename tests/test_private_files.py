"""Nothing under the data directory is readable by other users of the machine (issue 10, finding 8):
databases (hub.db holds password hashes and CSRF tokens), their -wal and -shm files, keys, logs,
media and the NATS store. Checked on `relais run` started as an operator starts it (from a shell
whose umask is the usual 022), and on one service started alone, after real traffic."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from relais.processes import ManagedProcess, ProcessSpec, wait_ready
from shared.tokens import issue_token, load_or_create_private_key
from tests.harness import eventually, free_port, http
from tests.images import png

RELAIS = str(Path(sys.executable).parent / "relais")
PORTS = (
    "RELAIS_NATS_PORT",
    "RELAIS_NATS_MONITOR_PORT",
    "RELAIS_HUB_PORT",
    "RELAIS_SANDBOX_PORT",
    "RELAIS_FORMATTER_PORT",
    "RELAIS_DISPATCHER_PORT",
    "RELAIS_FEDERATION_PORT",
)


def multipart(data: bytes) -> tuple[bytes, str]:
    """One part named file: the body and its content type."""
    head = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'
    return head + data + b"\r\n--b--\r\n", "multipart/form-data; boundary=b"


def readable_by_others(root: Path) -> list[str]:
    """Every file or folder under `root` (itself included) that its group or others may use. A file
    gone between the listing and its look (nats-server renames its `.tmp` files) is no one's."""
    found = []
    for path in [root, *root.rglob("*")]:
        try:
            mode = path.lstat().st_mode
        except FileNotFoundError:
            continue
        if mode & 0o077:
            found.append(f"{oct(stat.S_IMODE(mode))} {path}")
    return found


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The shell's usual umask, whatever the test runner's: the processes must not rely on it."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def test_relais_run_keeps_every_file_of_its_data_directory_private(tmp_path: Path, usual_umask: None) -> None:
    data_dir = tmp_path / "var"
    ports = {name: str(free_port()) for name in PORTS}
    intake = free_port()  # the next agencies take +10 and +20
    env = {**os.environ, **ports, "RELAIS_DATA_DIR": str(data_dir), "RELAIS_INTAKE_PORT": str(intake)}
    run = ManagedProcess(ProcessSpec("relais-run", [RELAIS, "run"], env), tmp_path / "logs")
    run.start()
    try:
        url = f"http://127.0.0.1:{intake}"
        eventually(lambda: wait_ready(f"{url}/readyz") or not run.alive, timeout=60)
        assert run.alive, run.tail()
        key = load_or_create_private_key(data_dir / "keys" / "hub-token-key.pem")
        token = issue_token(key, role="advisor", subject="claire", agency="lyon-part-dieu")
        body, content_type = multipart(png())
        status, media = http(
            "POST", f"{url}/v1/media", raw=body, token=token, headers={"Content-Type": content_type}
        )
        assert status == 201, media
        post = {
            "text": "Privé #emploi",
            "networks": ["mastodon"],
            "media": [{"id": media["id"], "alt": "Affiche"}],
        }
        status, accepted = http("POST", f"{url}/v1/posts", post, token=token)
        assert status == 202, accepted

        def published() -> bool:
            return bool(
                http("GET", f"{url}/v1/posts/{accepted['id']}", token=token)[1]["status"] == "published"
            )

        eventually(published, timeout=60)
        names = {p.name for p in data_dir.rglob("*")}
        assert {"hub.db-wal", "hub.db-shm", "hub.log", "jetstream", "hub-token-key.pem"} <= names, names
        assert readable_by_others(data_dir) == []
    finally:
        run.stop()
    assert readable_by_others(data_dir) == []


def test_a_service_started_alone_keeps_its_files_private(tmp_path: Path, usual_umask: None) -> None:
    data_dir = tmp_path / "intake"
    data_dir.mkdir(mode=0o755)  # left open by an earlier version
    key = load_or_create_private_key(tmp_path / "keys" / "hub.pem")
    port = free_port()
    env = {
        "RELAIS_DATA_DIR": str(data_dir),
        "RELAIS_AGENCY_ID": "lyon-part-dieu",
        "RELAIS_INTAKE_PORT": str(port),
        "RELAIS_NATS_URL": f"nats://127.0.0.1:{free_port()}",  # no bus: the node works offline
        "RELAIS_TOKEN_PUBLIC_KEY_FILE": str(tmp_path / "keys" / "hub.pub.pem"),
    }
    intake = ManagedProcess(
        ProcessSpec("intake", [sys.executable, "-m", "services.intake"], env), tmp_path / "logs"
    )
    intake.start()
    try:
        eventually(lambda: wait_ready(f"http://127.0.0.1:{port}/healthz") or not intake.alive, timeout=30)
        assert intake.alive, intake.tail()
        token = issue_token(key, role="advisor", subject="claire", agency="lyon-part-dieu")
        body, content_type = multipart(png())
        status, _ = http(
            "POST",
            f"http://127.0.0.1:{port}/v1/media",
            raw=body,
            token=token,
            headers={"Content-Type": content_type},
        )
        assert status == 201
        assert any(p.name.endswith("-wal") for p in data_dir.iterdir())
        assert readable_by_others(data_dir) == []
    finally:
        intake.stop()
