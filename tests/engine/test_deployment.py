"""The real compose deployment on a real Docker engine (issue 12): built from this checkout, started
with pytest-docker, and used as an operator would, from the host."""

from __future__ import annotations

import pytest

from tests.docker_deployment import Deployment, post_when_ready, wait_post_published
from tests.harness import http

pytestmark = pytest.mark.docker


def test_the_real_compose_deployment_becomes_healthy_and_publishes(deployment: Deployment) -> None:
    states = {
        s: deployment.inspect(s)["State"] for s in ("nats", "hub", "dispatcher", "intake-lyon-part-dieu")
    }
    assert all(state["Health"]["Status"] == "healthy" for state in states.values()), states
    intake = deployment.url("intake-lyon-part-dieu")
    token = deployment.token("advisor", "--agency", "lyon-part-dieu")
    post = {"text": "Docker #emploi", "networks": ["x"]}
    accepted = post_when_ready(intake, token, post)
    (delivery,) = wait_post_published(intake, token, accepted["id"])["deliveries"]
    sandbox = http("GET", f"{deployment.url('sandbox')}/_sandbox/posts?network=x")[1]["posts"]
    assert [p["remote_id"] for p in sandbox if "Docker" in p["text"]] == [delivery["remote_id"]]
