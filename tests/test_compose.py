"""docker-compose.yml, checked two ways: its commands run here as local processes (no engine needed),
and, where a Docker engine exists, the real deployment through pytest-docker."""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import pytest

from relais.processes import ManagedProcess, stop_all
from services.dispatcher.settings import Settings as DispatcherSettings
from shared import config
from shared.tokens import issue_token, load_or_create_private_key
from tests.compose_runner import NOT_RUN_HERE, REPO, ComposeRun
from tests.docker_deployment import HOST_PORT_VARIABLES
from tests.harness import eventually, http, nats_answer

# The services that run once and stop (`restart: "no"`): init, before every `up`; the operators'
# backup and restore job (`--profile ops run`).
JOBS = {"init", "backup"}


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
    assert {p.spec.name for p in processes} == set(run.services) - JOBS - NOT_RUN_HERE
    assert all(p.alive for p in processes)
    for name, service in run.services.items():
        if name not in {"nats", *JOBS}:
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

    # A comment pushed by the sandbox's Meta webhook reaches the hub's inbox: init wrote the secrets
    # the sandbox signs with where the hub reads them, and the sandbox knows the hub's address.
    sandbox = f"http://127.0.0.1:{run.port('sandbox', 8702)}"
    status, pushed = http(
        "POST",
        f"{sandbox}/_sandbox/webhooks/meta",
        {"page_id": "104857600123", "text": "Le forum est-il ouvert ?"},
    )
    assert status == 200 and pushed["deliveries"] == [[200]], pushed
    moderator = issue_token(key, role="moderator", subject="hub-team")
    hub = f"http://127.0.0.1:{run.port('hub', 8700)}"
    eventually(lambda: http("GET", f"{hub}/v1/inbox", token=moderator)[1].get("conversations"), timeout=30)

    # Every service's /metrics answers an ops token (each holds the hub's public key), and no one else.
    ops = issue_token(key, role="ops", subject="ops")
    http_ports = {"hub": 8700, "formatter": 8703, "dispatcher": 8704, "federation": 8705}
    for service, container_port in {**http_ports, "intake-lyon-part-dieu": 8701}.items():
        url = f"http://127.0.0.1:{run.port(service, container_port)}/metrics"
        status, text = http("GET", url, token=ops)
        assert status == 200 and "relais_nats_connected" in text, (service, status, text)
        assert http("GET", url)[0] == 401, service


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


# What each service's role needs to hold, written by hand (issue 10, finding 0): nothing else may
# be readable through its volumes. `init` writes every secret, so it alone may read them all.
TOKEN_KEY, SECRETS_KEY = "the hub's private signing key", "the secrets key"
CREDENTIALS = "network credentials"
HUB_PASSWORD, LYON_PASSWORD = "NATS password of hub", "NATS password of agency-lyon-part-dieu"
OPS_TOKEN = "the ops token Prometheus scrapes with"
WEBHOOK_SECRETS = "the networks' webhook secrets"
EVERY_NATS_PASSWORD = "NATS password of "  # every user's, hub and agencies
MAY_READ: dict[str, set[str]] = {
    "nats": {EVERY_NATS_PASSWORD},  # its users block
    "sandbox": set(),
    "federation": {HUB_PASSWORD},
    "formatter": {HUB_PASSWORD},
    "hub": {TOKEN_KEY, HUB_PASSWORD, WEBHOOK_SECRETS},
    "dispatcher": {HUB_PASSWORD, SECRETS_KEY, CREDENTIALS},
    "intake-lyon-part-dieu": {LYON_PASSWORD},
    "prometheus": {OPS_TOKEN},
    # The operators' backup and restore job (`--profile ops run`, never a running service): a
    # backup holds every secret, so it reads them all by necessity.
    "backup": {TOKEN_KEY, SECRETS_KEY, CREDENTIALS, EVERY_NATS_PASSWORD, WEBHOOK_SECRETS},
}


def secret_marks(
    key_pem: bytes,
    secrets_key: bytes,
    credentials: dict[str, Any],
    passwords: dict[str, str],
    webhooks: dict[str, Any],
) -> dict[str, list[bytes]]:
    """Each secret of a deployment, as the bytes that would give it away in a file."""
    return {
        WEBHOOK_SECRETS: [webhooks["meta"]["app_secret"].encode(), webhooks["meta"]["verify_token"].encode()],
        # Any private key at all, and this one's body in any file.
        TOKEN_KEY: [b"PRIVATE KEY", key_pem.splitlines()[1]],
        SECRETS_KEY: [secrets_key.strip()],
        CREDENTIALS: [next(iter(credentials.values()))["token"].encode()],
        **{f"NATS password of {user}": [password.encode()] for user, password in passwords.items()},
    }


def _secrets(run: ComposeRun) -> dict[str, list[bytes]]:
    init = run.environment("init")
    credentials = json.loads((Path(init["RELAIS_DATA_DIR"]) / "credentials.json").read_text())
    (users,) = (run.root / "volumes").rglob("passwords.json")  # init's own list of NATS users
    return secret_marks(
        Path(init["RELAIS_TOKEN_KEY_FILE"]).read_bytes(),
        Path(init["RELAIS_SECRETS_KEY_FILE"]).read_bytes(),
        credentials,
        json.loads(users.read_text()),
        json.loads(Path(init["RELAIS_WEBHOOK_SECRETS_FILE"]).read_text()),
    )


def _readable_files(run: ComposeRun, service: str) -> dict[str, bytes]:
    """Every file a service can read through its volumes, by its path in the container (the image's
    own files, `/app` and the checkout's configuration files, hold no secret)."""
    found = {}
    for volume in run.services[service].get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("./"):
            continue
        root = run.root / "volumes" / source
        for path in root.rglob("*"):
            if path.is_file():
                found[f"{target}/{path.relative_to(root)}"] = path.read_bytes()
    return found


def _allowed(secret: str, allowed: set[str]) -> bool:
    return secret in allowed or (EVERY_NATS_PASSWORD in allowed and secret.startswith(EVERY_NATS_PASSWORD))


def leaks(service: str, readable: dict[str, bytes], secrets: dict[str, list[bytes]]) -> list[str]:
    """Each secret that `service` can read in a file (`readable`: path to content) and that MAY_READ
    does not give its role."""
    return [
        f"{service} can read {name} in {path}"
        for path, content in readable.items()
        for name, marks in secrets.items()
        if not _allowed(name, MAY_READ[service]) and any(mark in content for mark in marks)
    ]


def test_each_compose_service_can_read_only_the_secrets_of_its_role(
    compose: tuple[ComposeRun, list[ManagedProcess]],
) -> None:
    run, _ = compose  # initialised and started: what the services wrote counts too
    assert set(MAY_READ) == set(run.services) - {"init"}, "a new service needs its row in MAY_READ"
    secrets = _secrets(run)
    assert {HUB_PASSWORD, LYON_PASSWORD} <= set(secrets), "init wrote no NATS password for a service"
    assert [
        leak for service in MAY_READ for leak in leaks(service, _readable_files(run, service), secrets)
    ] == []
    intake = _readable_files(run, "intake-lyon-part-dieu")
    assert {"/token-public-key/hub-token-key.pub.pem", "/nats-auth/password-agency-lyon-part-dieu"} <= set(
        intake
    )


def test_init_run_again_replaces_no_key_password_or_operator_credential(tmp_path: Path) -> None:
    run = ComposeRun(tmp_path)
    assert run.run_once("init").returncode == 0
    credentials = Path(run.environment("init")["RELAIS_DATA_DIR"]) / "credentials.json"
    credentials.write_text(json.dumps({"lyon-part-dieu-mastodon": {"token": "sealed-by-the-operator"}}))
    before = {p: p.read_bytes() for p in (tmp_path / "volumes").rglob("*") if p.is_file()}

    again = run.run_once("init")

    assert again.returncode == 0, again.stderr.decode()
    assert {p: p.read_bytes() for p in (tmp_path / "volumes").rglob("*") if p.is_file()} == before


# Who owns each volume init fills, written by hand: nats-server runs as a user of its own (10002, never
# root), the Relais services as 10001.
NATS_USER, SERVICES_USER = 10002, 10001
NATS_VOLUMES = {"nats-server-auth", "nats-data"}


@pytest.mark.skipif(os.geteuid() != 0, reason="init hands volumes over only when run as root, as in compose")
def test_init_hands_nats_servers_volumes_to_its_user_and_the_rest_to_the_services(tmp_path: Path) -> None:
    run = ComposeRun(tmp_path)
    (tmp_path / "volumes" / "nats-data" / "jetstream").mkdir(parents=True)  # a store root once wrote
    assert run.run_once("init").returncode == 0
    volumes = {v.split(":")[0] for v in run.services["init"]["volumes"]}
    assert NATS_VOLUMES <= volumes
    owners = {
        f"{path.relative_to(tmp_path / 'volumes')}": path.stat().st_uid
        for volume in volumes
        for path in [tmp_path / "volumes" / volume, *(tmp_path / "volumes" / volume).rglob("*")]
    }
    expected = {path: NATS_USER if path.split("/")[0] in NATS_VOLUMES else SERVICES_USER for path in owners}
    assert owners == expected
    assert (tmp_path / "volumes" / "nats-server-auth" / "auth.conf").exists()


# Image hygiene (issue 12, item 8), read from the files as Docker and Compose would; the policy is
# written here by hand.
RELAIS_IMAGE = "relais:latest"
INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Z0-9_]+):-(?P<default>[^}]*)\}")


def _interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's `${NAME:-default}`: the variable when set and not empty, else the default."""
    return INTERPOLATION.sub(lambda m: env.get(m["name"]) or m["default"], value)


def _seconds(duration: str) -> float:
    """A compose duration such as `45s`, `1m30s`."""
    units = {"h": 3600, "m": 60, "s": 1}
    parts = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", duration)
    assert parts and duration, duration
    return sum(int(n) * unit for n, unit in zip(parts.groups(), units.values(), strict=True) if n)


def _long_running(run: ComposeRun) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in run.services.items() if s.get("restart") != "no"}


def test_one_image_is_built_once_and_shared_by_every_service(tmp_path: Path) -> None:
    services = ComposeRun(tmp_path).services
    relais = {name: s for name, s in services.items() if "demo" not in s.get("profiles", [])}
    del relais["nats"], relais["prometheus"]  # other programs, in images of their own
    builders = [name for name, s in relais.items() if "build" in s]
    assert builders == ["init"]  # the job every `up` starts first
    assert {_interpolate(s["image"], {}) for s in relais.values()} == {RELAIS_IMAGE}
    for name, service in relais.items():
        if name != "init":  # never pulled: a registry's `relais:latest` is not this build
            assert service["pull_policy"] == "never", name
    assert services["init"]["build"]["target"] == "production"
    # The sandbox, a test double, is the demo target's image, never production's.
    assert (
        services["sandbox"]["build"]["target"] == "demo"
        and _interpolate(services["sandbox"]["image"], {}) != RELAIS_IMAGE
    )


def test_every_service_has_a_healthcheck_with_a_start_period_and_rotating_logs(tmp_path: Path) -> None:
    run = ComposeRun(tmp_path)
    for name, service in _long_running(run).items():
        health = service["healthcheck"]
        assert _seconds(health["start_period"]) >= 10, name
        assert health["test"], name
    for name, service in run.services.items():
        logging = service["logging"]
        assert logging["driver"] == "json-file", name
        assert re.fullmatch(r"\d+[km]", logging["options"]["max-size"]), name
        assert int(logging["options"]["max-file"]) >= 2, name


def test_the_dispatcher_is_given_longer_to_stop_than_its_drain(tmp_path: Path) -> None:
    run = ComposeRun(tmp_path)
    # A clean stop waits for the calls in flight up to the HTTP timeout (services/dispatcher).
    environment = run.services["dispatcher"]["environment"]
    drain = float(environment.get("RELAIS_DISPATCHER_HTTP_TIMEOUT", DispatcherSettings.http_timeout))
    grace = _seconds(run.services["dispatcher"]["stop_grace_period"])
    assert grace >= drain + 10, (grace, drain)  # the calls in flight, then their results recorded
    for name, service in _long_running(run).items():
        assert _seconds(service.get("stop_grace_period", "10s")) >= 10, name


def test_published_ports_are_loopback_by_default_and_chosen_by_environment(tmp_path: Path) -> None:
    services = ComposeRun(tmp_path).services
    published = {name: s["ports"] for name, s in services.items() if "ports" in s}
    assert set(published) == set(HOST_PORT_VARIABLES)
    for name, ports in published.items():
        variable = HOST_PORT_VARIABLES[name]
        for port in ports:
            address, host, container = _interpolate(port, {}).split(":")
            assert address == "127.0.0.1" and host == container, (name, port)
            chosen = _interpolate(port, {variable: "18000", "RELAIS_PUBLISH_ADDRESS": "0.0.0.0"})
            assert chosen == f"0.0.0.0:18000:{container}", (name, port)


def _stages(dockerfile: str) -> dict[str, list[str]]:
    """Each stage's instructions (continuation lines joined), by stage name."""
    stages: dict[str, list[str]] = {}
    current: list[str] = []
    for line in dockerfile.replace("\\\n", " ").splitlines():
        line = line.strip()
        if line.startswith("FROM "):
            current = stages.setdefault(line.split()[-1], [line])
        elif line and not line.startswith("#"):
            current.append(line)
    return stages


def test_the_image_runs_as_a_non_root_user_with_its_dependencies_in_a_layer_of_their_own() -> None:
    stages = _stages((REPO / "Dockerfile").read_text())
    production = list(stages)[-1]
    assert production == "production"  # the default target
    chain, stage = [], production
    while stage in stages:  # production ← base ← the base image
        chain.append(stage)
        stage = stages[stage][0].split()[1]
    users = [i.split()[1] for s in reversed(chain) for i in stages[s] if i.startswith("USER ")]
    assert users and users[-1] not in ("root", "0"), users
    base = stages["base"]
    dependencies = next(i for i, line in enumerate(base) if "pip install" in line and "-r " in line)
    source = next(i for i, line in enumerate(base) if line.startswith("COPY --from=source"))
    assert dependencies < source and "COPY pyproject.toml" in base[dependencies - 1]


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: a path is left out when it, or a folder above it, matches a pattern."""

    def regex(pattern: str) -> re.Pattern[str]:
        body = re.escape(pattern).replace(r"\*\*/", "(?:.*/)?").replace(r"\*", "[^/]*")
        return re.compile(body)

    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(regex(p).fullmatch(prefix) for p in patterns for prefix in prefixes)


def test_the_image_never_ships_local_data_environments_or_peers() -> None:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert not any(p.startswith("!") for p in patterns)
    for path in (
        "var/hub/hub.db",
        "services/hub/var/keys/hub-token-key.pem",
        ".venv/bin/python",
        "shared/.venv/lib/site.py",
        ".peers/agency/password",
        "services/intake/.peers/x",
        "services/intake/outbox.db",
        "services/intake/outbox.db-wal",
        "relais/hub-token-key.pem",
        ".env",
    ):
        assert _ignored(path, patterns), path
    for path in ("shared/bus.py", "services/federation/data/demo_federation.csv", "pyproject.toml"):
        assert not _ignored(path, patterns), path
