"""`/metrics` of every service, against the whole system as real processes: a post goes through
moderation and is published, and each service's metrics tell it (the expected values follow from
what the test did, never from a recorded scrape). Then a real Prometheus (Debian's binary) scrapes
the running system with an ops token, and its query API returns the published-deliveries counter.

The access rule (shared/metrics.py): ops and admin tokens only; no token 401, other roles 403, and
the refusals reach the hub's audit like any other.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.parse
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from services.dispatcher.service import CONSUMER as DISPATCHER_CONSUMER
from shared.agency_consumers import agency_consumers
from tests.harness import RelaisSystem, eventually, free_port, http

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
PROMETHEUS = Path("/usr/bin/prometheus")


def scrape(url: str, token: str | None) -> tuple[int, Samples]:
    status, body = http("GET", f"{url}/metrics", token=token)
    if status != 200:
        return status, {}
    samples: Samples = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return status, samples


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def urls(relais: RelaisSystem) -> dict[str, str]:
    return {
        "hub": relais.hub_url,
        "intake": relais.intake_url(),
        "dispatcher": f"http://127.0.0.1:{relais.ports.dispatcher}",
        "federation": f"http://127.0.0.1:{relais.ports.federation}",
        "formatter": f"http://127.0.0.1:{relais.ports.formatter}",
    }


def _queued_post(relais: RelaisSystem) -> str:
    admin = relais.token("admin")
    status, _ = http(
        "PUT", f"{relais.hub_url}/v1/policies", {"scope": "default", "mode": "moderated"}, token=admin
    )
    assert status == 200
    status, accepted = relais.post({"text": "Atelier CV mardi 14 h #emploi", "networks": ["mastodon"]})
    assert status == 202, accepted
    return str(accepted["id"])


def test_metrics_tell_a_post_published_end_to_end(relais: RelaisSystem) -> None:
    ops, admin = relais.token("ops"), relais.token("admin")
    services = urls(relais)
    dispatcher = services["dispatcher"]
    before = value(
        scrape(dispatcher, ops)[1], "relais_deliveries_total", network="mastodon", status="published"
    )

    post_id = _queued_post(relais)
    # The hub's queue gauge shows the post waiting for a moderator, and for how long.
    queued = eventually(
        lambda: (s := scrape(relais.hub_url, ops)[1]) and value(s, "relais_moderation_queue_size") == 1 and s,
        timeout=30,
    )
    assert (value(queued, "relais_moderation_queue_oldest_age_seconds") or -1) >= 0
    status, _ = http("POST", f"{relais.hub_url}/v1/moderation/{post_id}/approve", token=admin)
    assert status == 200
    relais.wait_status(post_id, ("published",))

    def published() -> Samples | None:
        samples = scrape(dispatcher, ops)[1]
        count = value(samples, "relais_deliveries_total", network="mastodon", status="published")
        return samples if count == (before or 0) + 1 else None

    samples = eventually(published, timeout=15)
    assert value(samples, "relais_delivery_latency_seconds_count", network="mastodon") == 1
    assert value(samples, "relais_deliveries_current", network="mastodon", status="published") == 1
    assert value(samples, "relais_nats_connected") == 1

    # Consumer lag is read from JetStream by the service owning the durable: nothing left to read.
    def lag_read() -> Samples | None:
        samples = scrape(dispatcher, ops)[1]
        lag = value(
            samples, "relais_consumer_lag_messages", stream=DISPATCHER_CONSUMER.stream, durable="dispatcher"
        )
        return samples if lag == 0 else None

    assert DISPATCHER_CONSUMER.durable == "dispatcher"
    eventually(lag_read, timeout=20)

    hub = eventually(
        lambda: (s := scrape(relais.hub_url, ops)[1]) and value(s, "relais_moderation_queue_size") == 0 and s
    )
    assert value(hub, "relais_moderation_queue_oldest_age_seconds") == 0
    assert value(hub, "relais_dead_letters_open") == 0
    agency = relais.agencies[0]
    assert value(hub, "relais_agency_last_contact_timestamp_seconds", agency=agency) is not None
    # The agency node reads its own consumers' lag (its NATS user may look up only those).
    own = {spec.durable for spec in agency_consumers(agency)}

    def intake_lags() -> Samples | None:
        samples = scrape(services["intake"], ops)[1]
        read = {dict(labels)["durable"] for name, labels in samples if name == "relais_consumer_lag_messages"}
        return samples if read == own else None

    intake = eventually(intake_lags, timeout=20)
    assert value(intake, "relais_outbox_backlog", agency=agency) == 0
    assert value(intake, "relais_nats_connected") == 1
    for name in ("federation", "formatter"):
        assert value(eventually(lambda n=name: scrape(services[n], admin)[1]), "relais_nats_connected") == 1
    # Post ids never become labels (unbounded cardinality).
    for url in services.values():
        assert post_id not in http("GET", f"{url}/metrics", token=ops)[1]

    if PROMETHEUS.exists():  # the bonus: a real Prometheus scraping the running system
        _prometheus_reads_the_counter(relais, services, ops, expected=(before or 0) + 1)


def test_metrics_are_refused_to_everyone_but_ops_and_admin_and_audited(relais: RelaisSystem) -> None:
    """Anonymous 401, any other role 403, on every service; the hub's refusals are audited."""
    tokens = {
        "advisor": relais.token("advisor"),
        "moderator": relais.token("moderator"),
    }
    for service, url in urls(relais).items():
        assert scrape(url, None)[0] == 401, service
        assert scrape(url, "not-a-token")[0] == 401, service
        for role, token in tokens.items():
            assert scrape(url, token)[0] == 403, (service, role)
    status, body = http(
        "GET", f"{relais.hub_url}/v1/audit?event=permission.denied", token=relais.token("admin")
    )
    assert status == 200
    refused = [e for e in body["events"] if e["detail"].get("route") == "/metrics"]
    assert {e["detail"]["status"] for e in refused} == {401, 403}, refused
    # The services without an audit of their own log each refusal, never the token.
    for service in ("dispatcher", "federation", "formatter"):
        log = relais.processes[service].log_path.read_text()
        denied = [
            json.loads(line)
            for line in log.splitlines()
            if '"permission.denied"' in line and '"/metrics"' in line
        ]
        assert {entry["status"] for entry in denied} == {401, 403}, service
        assert tokens["advisor"] not in log and "not-a-token" not in log, service


def _prometheus_reads_the_counter(
    relais: RelaisSystem, services: dict[str, str], token: str, expected: float
) -> None:
    work = relais.root / "prometheus"
    work.mkdir()
    token_file = work / "ops.token"
    token_file.write_text(token)
    token_file.chmod(0o600)
    targets = [urllib.parse.urlsplit(url).netloc for url in services.values()]
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
        "scrape_configs": [
            {
                "job_name": "relais",
                "authorization": {"credentials_file": str(token_file)},
                "static_configs": [{"targets": targets}],
            }
        ],
    }
    (work / "prometheus.yml").write_text(json.dumps(config))  # JSON is YAML
    port = free_port()
    log = (work / "prometheus.log").open("w")
    process = subprocess.Popen(
        [
            str(PROMETHEUS),
            f"--config.file={work / 'prometheus.yml'}",
            f"--storage.tsdb.path={work / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        query = urllib.parse.quote('relais_deliveries_total{network="mastodon",status="published"}')

        def counted() -> float | None:
            try:
                status, body = http("GET", f"http://127.0.0.1:{port}/api/v1/query?query={query}")
            except OSError:
                return None
            if status != 200 or not body["data"]["result"]:
                return None
            return float(body["data"]["result"][0]["value"][1])

        assert eventually(counted, timeout=30, interval=0.5) == expected
        # Every target is up: each service accepted the token Prometheus sent.
        up = urllib.parse.quote("sum(up)")
        total = eventually(
            lambda: (
                (b := http("GET", f"http://127.0.0.1:{port}/api/v1/query?query={up}")[1])
                and b["data"]["result"]
                and float(b["data"]["result"][0]["value"][1]) == len(targets)
            ),
            timeout=15,
            interval=0.5,
        )
        assert total
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()
        shutil.rmtree(work / "data", ignore_errors=True)
