"""Prometheus on the real compose deployment (issue 12, item 5): `--profile metrics` builds its image
from Debian's package and deploy/prometheus/, an operator gives it an ops token made at the hub, and
it scrapes every service over the compose network and evaluates the alert rules. The expected
targets are written here by hand; the counter must follow from the post this test publishes."""

from __future__ import annotations

import shlex
import subprocess
import urllib.parse
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from tests.docker_deployment import REPO, Deployment, post_when_ready, wait_post_published
from tests.engine.test_secrets import check_secrets_by_role
from tests.harness import eventually, http
from tests.test_compose import OPS_TOKEN

pytestmark = pytest.mark.docker

# Every service that serves /metrics in a deployment (the sandbox, a test double, and nats-server do
# not), by its address on the compose network.
SCRAPED = {
    "hub:8700",
    "intake-lyon-part-dieu:8701",
    "formatter:8703",
    "dispatcher:8704",
    "federation:8705",
}
ALERTS = REPO / "deploy" / "prometheus" / "alerts.yml"


def set_ops_token(deployment: Deployment) -> None:
    """The README's operator step, as a person types it: a token made and recorded at the hub, piped
    into Prometheus's own volume (it never lands on the host's disk)."""
    compose = ["docker", "compose", "-p", deployment.project]
    for file in deployment.files:
        compose += ["-f", str(file)]
    for profile in deployment.profiles:
        compose += ["--profile", profile]
    create = [*compose, "exec", "-T", "hub", "relais", "token", "create", "--role", "ops"]
    create += ["--subject", "prometheus", "--ttl-days", "365"]
    store = [*compose, "exec", "-T", "prometheus", "set-ops-token"]
    pipeline = f"set -o pipefail; {shlex.join(create)} | {shlex.join(store)}"
    done = subprocess.run(
        ["bash", "-c", pipeline], capture_output=True, text=True, timeout=120, env=deployment.env, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def api(prometheus: str, path: str) -> Any:
    status, body = http("GET", f"{prometheus}/api/v1/{path}")
    assert status == 200 and body["status"] == "success", (status, body)
    return body["data"]


def published_deliveries(prometheus: str) -> float:
    query = urllib.parse.quote('sum(relais_deliveries_total{status="published"})')
    result = api(prometheus, f"query?query={query}")["result"]
    return float(result[0]["value"][1]) if result else 0.0


def publish_a_post(deployment: Deployment) -> None:
    intake = deployment.url("intake-lyon-part-dieu")
    token = deployment.token("advisor", "--agency", "lyon-part-dieu")
    post = {"text": "Métriques #emploi", "networks": ["x"]}
    accepted = post_when_ready(intake, token, post, timeout=60)
    wait_post_published(intake, token, accepted["id"])


def test_prometheus_scrapes_every_service_of_the_compose_deployment(
    new_deployment: Callable[..., Deployment],
) -> None:
    deployment = new_deployment(profiles=["demo", "metrics"])
    deployment.up()
    prometheus = deployment.url("prometheus")
    set_ops_token(deployment)

    def targets_up() -> dict[str, str] | None:
        targets = api(prometheus, "targets?state=active")["activeTargets"]
        health = {t["labels"]["instance"]: t["health"] for t in targets}
        return health if set(health) == SCRAPED and set(health.values()) == {"up"} else None

    eventually(targets_up, timeout=60, interval=1)

    # Every alert rule of deploy/prometheus/alerts.yml is loaded and evaluates without error.
    written = {r["alert"] for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"]}

    def rules_evaluated() -> dict[str, str] | None:
        rules = [r for g in api(prometheus, "rules?type=alert")["groups"] for r in g["rules"]]
        health = {r["name"]: r["health"] for r in rules}
        return health if set(health) == written and set(health.values()) == {"ok"} else None

    eventually(rules_evaluated, timeout=60, interval=1)

    before = published_deliveries(prometheus)
    publish_a_post(deployment)
    eventually(lambda: published_deliveries(prometheus) >= before + 1, timeout=60, interval=1)

    # The ops token is Prometheus's alone: no other container can read it.
    token = deployment.exec("prometheus", "cat", "/ops-token/ops.token").strip()
    assert token.count(".") == 2, "not a signed token (JWT)"
    check_secrets_by_role(deployment, {OPS_TOKEN: [token.encode()]})
