"""docker-compose.yml, checked two ways: its commands run here as local processes (no engine needed),
and, where a Docker engine exists, the real deployment through pytest-docker."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import pytest

from relais.processes import ManagedProcess, stop_all
from shared import config
from shared.tokens import issue_token, load_or_create_private_key
from tests.compose_runner import REPO, ComposeRun
from tests.harness import eventually, http, nats_answer


@pytest.fixture
def compose(tmp_path: Path) -> Iterator[tuple[ComposeRun, list[ManagedProcess]]]:
    run = ComposeRun(tmp_path)
    init = run.run_once("init")
    assert init.returncode == 0, init.stderr.decode()
    processes = run.long_running()
    try:
        for process in processes:
            process.start()
        for process in processes:
            process.wait_ready(timeout=30)
        yield run, processes
    finally:
        stop_all(processes)


def test_every_compose_service_starts_from_its_command_and_environment(
    compose: tuple[ComposeRun, list[ManagedProcess]],
) -> None:
    run, processes = compose
    assert {p.spec.name for p in processes} == set(run.services) - {"init"}
    assert all(p.alive for p in processes)
    for name, service in run.services.items():
        if name not in ("nats", "init"):
            assert service["restart"] == "unless-stopped" and "healthcheck" in service, name


def test_the_compose_deployment_publishes_a_post(compose: tuple[ComposeRun, list[ManagedProcess]]) -> None:
    run, _ = compose
    env = run.environment("hub")
    key = load_or_create_private_key(Path(env["RELAIS_TOKEN_KEY_FILE"]))
    agency = run.environment("intake-lyon-part-dieu")["RELAIS_AGENCY_ID"]
    token = issue_token(key, role="advisor", subject="claire", agency=agency)
    intake = f"http://127.0.0.1:{run.port('intake-lyon-part-dieu', 8701)}"
    eventually(lambda: http("GET", f"{intake}/readyz")[0] == 200)
    status, accepted = http(
        "POST", f"{intake}/v1/posts", {"text": "Compose #emploi", "networks": ["x"]}, token
    )
    assert status == 202, accepted

    def published() -> dict[str, Any] | None:
        _, post = http("GET", f"{intake}/v1/posts/{accepted['id']}", token=token)
        return post if post["status"] == "published" else None

    post = eventually(published, timeout=30)
    assert post["deliveries"][0]["remote_id"]


def test_the_compose_bus_lets_in_only_signed_in_clients_each_within_its_rights(
    compose: tuple[ComposeRun, list[ManagedProcess]],
) -> None:
    run, _ = compose
    agency_env = run.environment("intake-lyon-part-dieu")

    async def attempts() -> tuple[str, bool]:
        anonymous = (await nats_answer(run.port("nats", 4222))).lower()
        refused: list[str] = []

        async def on_error(exc: Exception) -> None:
            refused.append(str(exc).lower())

        agency = await nats.connect(config.nats_url(agency_env), error_cb=on_error)
        await agency.publish("posts.rennes-sud.forged", b"{}")  # another agency's subject
        await agency.flush()
        await asyncio.sleep(0.3)
        await agency.close()
        return anonymous, any("permissions violation" in r and "posts.rennes-sud" in r for r in refused)

    anonymous, forged_refused = asyncio.run(attempts())

    assert "authorization" in anonymous, anonymous
    assert forged_refused


def _docker_engine() -> str | None:
    """Why the real compose tests cannot run here, or None when they can."""
    if shutil.which("docker") is None:
        return "no docker client on this machine"
    for args in (["docker", "info"], ["docker", "compose", "version"]):
        try:
            done = subprocess.run(args, capture_output=True, timeout=20, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"`{' '.join(args)}` failed: {exc}"
        if done.returncode != 0:
            return f"`{' '.join(args)}` failed: no Docker engine or compose plugin here"
    return None


@pytest.fixture(scope="session")
def docker_compose_file() -> str:
    return str(REPO / "docker-compose.yml")


@pytest.fixture(scope="session")
def engine_services(request: pytest.FixtureRequest) -> Any:
    """pytest-docker's `docker_services` errors without an engine: skip with the reason instead."""
    reason = _docker_engine()
    if reason:
        pytest.skip(f"real compose deployment not tested: {reason}")
    return request.getfixturevalue("docker_services")


@pytest.mark.docker
def test_the_real_compose_deployment_becomes_healthy_and_publishes(engine_services: Any) -> None:
    engine_services.wait_until_responsive(
        check=lambda: http("GET", "http://127.0.0.1:8701/healthz")[0] == 200, timeout=180, pause=2
    )
    token = subprocess.run(
        [
            "docker",
            "compose",
            "-f",
            str(REPO / "docker-compose.yml"),
            "exec",
            "-T",
            "hub",
            "relais",
            "token",
            "create",
            "--role",
            "advisor",
            "--agency",
            "lyon-part-dieu",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    status, accepted = http(
        "POST", "http://127.0.0.1:8701/v1/posts", {"text": "Docker #emploi", "networks": ["x"]}, token
    )
    assert status == 202, accepted
    eventually(
        lambda: (
            http("GET", f"http://127.0.0.1:8701/v1/posts/{accepted['id']}", token=token)[1]["status"]
            == "published"
        ),
        timeout=60,
    )
