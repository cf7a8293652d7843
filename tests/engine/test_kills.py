"""Kills in containers (issue 12, item 2), short version: 36 posts to the agency's five networks
while the dispatcher, the hub, the federation, the agency's intake and nats-server are each
SIGKILLed from the host and restarted; the policy is `tests/engine/kill_scenario.py`'s docstring.
The long version, 200 posts, is `bench/bench_compose_kills.py`."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.docker_deployment import Deployment
from tests.engine.kill_scenario import KILLED, problems, run, summary

pytestmark = pytest.mark.docker


def test_every_post_is_published_once_through_kills_of_every_container(
    new_deployment: Callable[..., Deployment],
) -> None:
    deployment = new_deployment()
    outcome = run(deployment, 36, spread_s=2.0, kill_after_s=0.1, drain_s=120)
    print(summary(outcome))
    assert [r.service for r in outcome.recoveries] == list(KILLED)
    found = problems(outcome)
    assert not found, "\n".join(found[:30]) + "\n" + deployment.logs()[-8000:]
