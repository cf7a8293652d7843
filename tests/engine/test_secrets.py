"""Secrets by role on the real engine (issue 12, items 3 and 8): every running container reads, as its
own user, every file it can reach under its mount points, and none may hold a secret that the
hand-written policy of tests/test_compose.py (MAY_READ) does not give its role. No long-running
container runs as root, nats-server included (the official image's default user is root).

`check_secrets_by_role` serves any deployment: tests/engine/test_metrics.py runs it with Prometheus
and its ops token too.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tests.docker_deployment import Deployment
from tests.test_compose import HUB_PASSWORD, LYON_PASSWORD, MAY_READ, leaks, secret_marks

pytestmark = pytest.mark.docker

# Run by the container's own user (compose exec's default) with its mount points as arguments: its
# uid, then every file it can open there, base64-encoded. A shell script, since nats-server's image
# has no Python; what the user cannot list or open is left out (it cannot reach it).
READ_MOUNTS = r"""
echo "UID $(id -u)"
find "$@" -type f 2>/dev/null | while IFS= read -r file; do
    if content=$(base64 2>/dev/null <"$file"); then printf 'FILE %s\n%s\n' "$file" "$content"; fi
done
"""

# Read by a one-off container with init's volumes and user: the deployment's secrets themselves.
READ_SECRETS = """
import json, os, pathlib
(users,) = pathlib.Path("/").glob("*/passwords.json")  # init's own list of NATS users
print(json.dumps({
    "key_pem": pathlib.Path(os.environ["RELAIS_TOKEN_KEY_FILE"]).read_text(),
    "secrets_key": pathlib.Path(os.environ["RELAIS_SECRETS_KEY_FILE"]).read_text(),
    "credentials": json.loads((pathlib.Path(os.environ["RELAIS_DATA_DIR"]) / "credentials.json").read_text()),
    "passwords": json.loads(users.read_text()),
    "webhooks": json.loads(pathlib.Path(os.environ["RELAIS_WEBHOOK_SECRETS_FILE"]).read_text()),
}))
"""


def deployment_secrets(deployment: Deployment) -> dict[str, list[bytes]]:
    done = deployment.compose(
        "run", "--rm", "-T", "--no-deps", "--entrypoint", "python", "init", "-c", READ_SECRETS
    )
    read = json.loads(done.stdout.strip().splitlines()[-1])
    secrets = secret_marks(
        read["key_pem"].encode(),
        read["secrets_key"].encode(),
        read["credentials"],
        read["passwords"],
        read["webhooks"],
    )
    assert {HUB_PASSWORD, LYON_PASSWORD} <= set(secrets), "init wrote no NATS password for a service"
    return secrets


def readable_files(deployment: Deployment, service: str) -> tuple[int, dict[str, bytes]]:
    """The uid the container's user has, and every file it can read under its mount points."""
    mounts = [mount["Destination"] for mount in deployment.inspect(service)["Mounts"]]
    assert mounts, service
    output = deployment.exec(service, "sh", "-c", READ_MOUNTS, "sh", *mounts)
    first, *lines = output.splitlines()
    uid = int(first.removeprefix("UID "))
    files: dict[str, list[str]] = {}
    current: list[str] = []
    for line in lines:
        if line.startswith("FILE "):
            current = files.setdefault(line.removeprefix("FILE "), [])
        else:
            current.append(line)
    return uid, {path: base64.b64decode("".join(chunks)) for path, chunks in files.items()}


def process_uids(deployment: Deployment, service: str) -> set[int]:
    """The real, effective, saved and file-system uids of the container's main process, as the host's
    kernel sees them."""
    status = Path(f"/proc/{deployment.main_pid(service)}/status").read_text()
    (uids,) = [line.split()[1:] for line in status.splitlines() if line.startswith("Uid:")]
    return {int(uid) for uid in uids}


def running_services(deployment: Deployment) -> set[str]:
    return set(deployment.compose("ps", "--services", "--status", "running").stdout.split())


def check_secrets_by_role(
    deployment: Deployment, extra_secrets: dict[str, list[bytes]] | None = None
) -> None:
    """Every running container is a service of the policy, runs as a user other than root, and can
    read no secret outside its role's."""
    secrets = {**deployment_secrets(deployment), **(extra_secrets or {})}
    running = running_services(deployment)
    assert running - set(MAY_READ) == set(), "a service without its row in MAY_READ"
    found: list[str] = []
    for service in sorted(running):
        assert 0 not in process_uids(deployment, service), f"{service} runs as root"
        uid, readable = readable_files(deployment, service)
        assert uid != 0, f"{service}'s user is root"
        found += leaks(service, readable, secrets)
    assert found == []


def test_each_running_container_reads_only_its_roles_secrets_and_never_runs_as_root(
    deployment: Deployment,
) -> None:
    assert {"nats", "hub", "dispatcher", "intake-lyon-part-dieu", "sandbox"} <= running_services(deployment)
    check_secrets_by_role(deployment)
    # The agency's node reads what it needs: the public half of the key and its own password.
    _, intake = readable_files(deployment, "intake-lyon-part-dieu")
    assert {"/token-public-key/hub-token-key.pub.pem", "/nats-auth/password-agency-lyon-part-dieu"} <= set(
        intake
    )
