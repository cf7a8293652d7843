"""The real compose deployment on a real Docker engine (issue 12): built from this checkout, started
with pytest-docker, and used as an operator would, from the host."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.docker_deployment import COMPOSE_FILE, OPT_OUT, Deployment, engine_problem
from tests.harness import eventually, http

pytestmark = pytest.mark.docker


@pytest.fixture(scope="session")
def docker_compose_file() -> str:
    return str(COMPOSE_FILE)


@pytest.fixture(scope="session")
def docker_compose_project_name() -> str:
    return f"relais-test-{os.getpid()}"


@pytest.fixture(scope="session")
def docker_setup() -> list[str]:
    """The demo profile (the deployment publishes to the sandbox networks), healthy before the tests."""
    return ["--profile demo up --build --detach --wait --wait-timeout 300"]


@pytest.fixture(scope="session")
def docker_cleanup() -> list[str]:
    return ["--profile demo down --volumes --remove-orphans --timeout 5"]


@pytest.fixture(scope="session")
def deployment(request: pytest.FixtureRequest, docker_compose_project_name: str) -> Iterator[Deployment]:
    """pytest-docker's deployment of docker-compose.yml, on free loopback host ports. Where no engine
    can be had the tests fail with the reason, unless RELAIS_SKIP_DOCKER_TESTS=1 says to skip them."""
    problem = engine_problem()
    if problem:
        if os.environ.get(OPT_OUT) == "1":
            pytest.skip(f"{OPT_OUT}=1: real compose deployment not tested ({problem})")
        pytest.fail(f"no Docker engine for the real compose deployment: {problem} (set {OPT_OUT}=1 to skip)")
    deployment = Deployment(docker_compose_project_name)
    with pytest.MonkeyPatch.context() as patch:  # pytest-docker's compose calls read the environment
        for name, value in deployment.variables.items():
            patch.setenv(name, value)
        request.getfixturevalue("docker_services")
        yield deployment


def test_the_real_compose_deployment_becomes_healthy_and_publishes(deployment: Deployment) -> None:
    states = {
        s: deployment.inspect(s)["State"] for s in ("nats", "hub", "dispatcher", "intake-lyon-part-dieu")
    }
    assert all(state["Health"]["Status"] == "healthy" for state in states.values()), states
    intake = deployment.url("intake-lyon-part-dieu")
    token = deployment.token("advisor", "--agency", "lyon-part-dieu")
    post = {"text": "Docker #emploi", "networks": ["x"]}
    # The agency learns its pages from the federation once its node has said hello.
    status, accepted = eventually(
        lambda: (r := http("POST", f"{intake}/v1/posts", post, token))[0] != 422 and r
    )
    assert status == 202, accepted

    def published() -> dict[str, Any] | None:
        post = http("GET", f"{intake}/v1/posts/{accepted['id']}", token=token)[1]
        return post if post["status"] == "published" else None

    post = eventually(published, timeout=60, interval=0.5)
    (delivery,) = post["deliveries"]
    sandbox = http("GET", f"{deployment.url('sandbox')}/_sandbox/posts?network=x")[1]["posts"]
    assert [p["remote_id"] for p in sandbox if "Docker" in p["text"]] == [delivery["remote_id"]]
