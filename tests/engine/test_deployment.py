"""The real compose deployment on a real Docker engine (issue 12): built from this checkout, started
with pytest-docker, and used as an operator would, from the host."""

from __future__ import annotations

from typing import Any

import pytest

from tests.docker_deployment import Deployment
from tests.harness import eventually, http

pytestmark = pytest.mark.docker


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
