"""Fixtures of the real-engine tests: every test here is marked `docker`.

- `engine`: fails with the reason when no Docker engine can be had (RELAIS_SKIP_DOCKER_TESTS=1 skips);
- `deployment`: pytest-docker's deployment of docker-compose.yml (demo profile), shared by the
  tests of one session that only read and publish;
- `new_deployment`: a factory of separate projects (fresh volumes, own ports) for tests that kill,
  restore or reshape a deployment, taken down at the end of the test.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from itertools import count
from typing import Any

import pytest

from tests.docker_deployment import COMPOSE_FILE, OPT_OUT, Deployment, engine_problem


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/engine/" in item.nodeid:
            item.add_marker(pytest.mark.docker)


@pytest.fixture(scope="session")
def engine() -> None:
    """A Docker engine with Compose v2 and the base images, or the reason there is none."""
    problem = engine_problem()
    if problem:
        if os.environ.get(OPT_OUT) == "1":
            pytest.skip(f"{OPT_OUT}=1: real compose deployment not tested ({problem})")
        pytest.fail(f"no Docker engine for the real compose deployment: {problem} (set {OPT_OUT}=1 to skip)")


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
def deployment(
    request: pytest.FixtureRequest, engine: None, docker_compose_project_name: str
) -> Iterator[Deployment]:
    """pytest-docker's deployment of docker-compose.yml, on free loopback host ports."""
    deployment = Deployment(docker_compose_project_name)
    with pytest.MonkeyPatch.context() as patch:  # pytest-docker's compose calls read the environment
        for name, value in deployment.variables.items():
            patch.setenv(name, value)
        request.getfixturevalue("docker_services")
        yield deployment


_projects = count(1)


@pytest.fixture
def new_deployment(engine: None) -> Iterator[Callable[..., Deployment]]:
    """Separate compose projects, each with fresh volumes and its own host ports; `down -v` after."""
    made: list[Deployment] = []

    def make(**options: Any) -> Deployment:
        made.append(Deployment(f"relais-test-{os.getpid()}-{next(_projects)}", **options))
        return made[-1]

    yield make
    for deployment in made:
        deployment.down()
