"""The services on a 3-node NATS cluster (issue 12, item 7), on real nats-servers: every stream,
key-value bucket, object store and consumer the hub side declares is replicated as
RELAIS_STREAM_REPLICAS says, and a client given every node's URL moves to another when its own dies.
Over TLS (`relais init --nats-tls`), a client checks the server against the deployment's CA, and
never sends its password to anything that does not first complete a TLS handshake."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import nats
import pytest

from relais import backup as backups
from relais import nats_tls
from relais.nats_auth import agency_user, authorization, load_or_create_passwords
from shared import bus, config
from shared.agency_consumers import agency_consumers
from shared.schemas import PAGES_BUCKET, STREAMS
from tests.harness import free_port
from tests.nats_cluster import Cluster

AGENCY = "lyon"
HUB_CLIENT = bus.hub_client("test")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    nodes = Cluster(tmp_path / "cluster")
    try:
        nodes.start()
        yield nodes
    finally:
        nodes.stop()


@contextlib.asynccontextmanager
async def connected(url: str, client: bus.BusClient = HUB_CLIENT) -> AsyncIterator[bus.BusConnection]:
    nc = await asyncio.wait_for(bus.connect(url, client), 10)
    try:
        yield nc
    finally:
        await nc.close()


ROOT = Path(__file__).resolve().parents[1]
_TRY_TO_CONNECT = """
import asyncio, sys
from shared import bus

async def main() -> None:
    nc = await bus.connect(sys.argv[1], bus.agency_client(sys.argv[2]))
    print("connected", flush=True)
    await nc.close()

asyncio.run(main())
"""


async def never_connects(url: str, seconds: float) -> bool:
    """True when the bus client keeps trying (forever, in a service) without connecting for
    `seconds`. It tries in a process of its own, killed at the end (with this test's environment:
    the CA file): a client that does not stop when cancelled cannot hang the test (a CI run once
    waited 25 minutes for one)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _TRY_TO_CONNECT,
        url,
        AGENCY,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        cwd=ROOT,
    )
    stdout = process.stdout
    assert stdout is not None

    async def connected() -> bool:  # its log lines go to stdout too
        while line := await stdout.readline():
            if line.strip() == b"connected":
                return True
        return False

    try:
        assert await asyncio.wait_for(connected(), seconds), "the client stopped trying without connecting"
    except TimeoutError:
        return True  # still trying
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()
    return False


async def test_every_stream_bucket_store_and_consumer_has_the_configured_replicas(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELAIS_STREAM_REPLICAS", "3")
    async with connected(cluster.urls()) as nc:
        js = nc.jetstream()

        async def declare() -> None:
            # What the hub side declares: the streams (every service), the pages bucket (federation),
            # the revocations, advisors' accounts, saved replies and stories buckets (hub), the sealing
            # key (dispatcher), an agency's media bucket and consumers (federation).
            await bus.ensure_streams(js)
            await bus.ensure_key_value(js, PAGES_BUCKET)
            await bus.ensure_key_value(js, "revoked_tokens")
            await bus.ensure_key_value(js, "advisor_accounts")
            await bus.ensure_key_value(js, "saved_replies")
            await bus.ensure_key_value(js, "advocacy_stories")
            await bus.ensure_key_value(js, "sealing")  # the dispatcher's public key (federation too)
            await bus.ensure_media_bucket(js, AGENCY)
            for spec in agency_consumers(AGENCY):
                await bus.ensure_consumer(js, spec)

        # Every declaration is idempotent, and a service that times out declaring is restarted and
        # declares again: so here, where a loaded machine once took more than 5 s for one of the
        # three-replica creations just after the cluster formed.
        for attempt in range(3):
            try:
                await declare()
                break
            except nats.errors.TimeoutError:
                if attempt == 2:
                    raise

        streams = {info.config.name: info async for info in _streams(js)}
        expected = {
            *STREAMS,
            f"KV_{PAGES_BUCKET}",
            "KV_revoked_tokens",
            "KV_advisor_accounts",
            "KV_saved_replies",
            "KV_advocacy_stories",
            "KV_sealing",
            f"OBJ_media-{AGENCY}",
        }
        assert set(streams) == expected
        for name, info in streams.items():
            assert info.config.num_replicas == 3, name
            assert info.cluster is not None and len(info.cluster.replicas or []) == 2, name
        for spec in agency_consumers(AGENCY):
            consumer = await js.consumer_info(spec.stream, spec.durable)
            assert consumer.cluster is not None and len(consumer.cluster.replicas or []) == 2, spec.durable


async def _streams(js: nats.js.JetStreamContext) -> AsyncIterator[nats.js.api.StreamInfo]:
    for info in await js.streams_info():
        yield info


async def test_an_existing_single_replica_deployment_is_scaled_up_by_the_next_declaration(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with connected(cluster.urls()) as nc:
        js = nc.jetstream()
        await bus.ensure_streams(js, replicas=1)
        await bus.ensure_key_value(js, PAGES_BUCKET, replicas=1)
        await bus.ensure_media_bucket(js, AGENCY, replicas=1)
        monkeypatch.setenv("RELAIS_STREAM_REPLICAS", "3")
        await bus.ensure_streams(js)
        await bus.ensure_key_value(js, PAGES_BUCKET)
        await bus.ensure_media_bucket(js, AGENCY)
        for info in await js.streams_info():
            assert info.config.num_replicas == 3, info.config.name


async def test_a_client_given_every_node_carries_on_through_another_when_its_node_dies(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELAIS_STREAM_REPLICAS", "3")
    async with connected(cluster.urls()) as nc:
        js = nc.jetstream()
        await bus.ensure_streams(js)
        first = nc.connected_url
        assert first is not None
        (node,) = [n for n in cluster.nodes if n.port == first.port]
        node.kill()
        for _attempt in range(60):  # until it has moved and the stream has a leader again
            with contextlib.suppress(nats.errors.Error, TimeoutError):
                ack = await js.publish("posts.lyon.p1", b"{}", timeout=2)
                break
            await asyncio.sleep(0.5)
        else:
            pytest.fail(f"no publish after its node died: {cluster.logs()}")
        assert ack.stream == "POSTS"
        assert nc.connected_url is not None and nc.connected_url.port != first.port


# --- TLS -----------------------------------------------------------------------------------------


@pytest.fixture
def tls_cluster(tmp_path: Path) -> Iterator[tuple[Cluster, Path, dict[str, str]]]:
    """A cluster that speaks TLS first (`handshake_first`), with the users `relais init` writes;
    its certificate made by `relais init --nats-tls` for localhost and 127.0.0.1."""
    folder = tmp_path / "tls"
    nats_tls.write_tls(folder, ["localhost", "127.0.0.1"])
    passwords = load_or_create_passwords(tmp_path / "passwords.json", [AGENCY])
    nodes = Cluster(
        tmp_path / "cluster",
        tls={
            "cert_file": str(folder / nats_tls.SERVER_CERT),
            "key_file": str(folder / nats_tls.SERVER_KEY),
            "handshake_first": True,
        },
        route_tls=_route_tls(folder),
        authorization=authorization(passwords),
    )
    try:
        nodes.start()
        yield nodes, folder / nats_tls.CA_CERT, passwords
    finally:
        nodes.stop()


def _route_tls(folder: Path) -> dict[str, Any]:
    """As deploy/cluster/nats-cluster.conf: each side of a route shows a certificate of the CA."""
    return {
        "cert_file": str(folder / nats_tls.SERVER_CERT),
        "key_file": str(folder / nats_tls.SERVER_KEY),
        "ca_file": str(folder / nats_tls.CA_CERT),
        "verify": True,
    }


def test_a_server_without_a_certificate_of_the_deployments_ca_cannot_join_as_a_route(
    tls_cluster: tuple[Cluster, Path, dict[str, str]], tmp_path: Path
) -> None:
    """A route bypasses every user's permissions (it receives all traffic): one that could join
    would read every agency's news. Its own CA, however valid, is not the deployment's."""
    cluster, _, _ = tls_cluster
    members = {n.name for n in cluster.nodes}
    assert all(cluster.peers(n) == members - {n.name} for n in cluster.nodes)
    own = tmp_path / "impostor-ca"
    nats_tls.write_tls(own, ["localhost", "127.0.0.1"])
    impostor = Cluster(tmp_path / "impostor", route_tls=_route_tls(own))
    node = impostor.nodes[0]
    config = json.loads(node.config.read_text())
    config["server_name"] = "intruder"
    config["cluster"]["routes"] = [f"nats-route://127.0.0.1:{n.route_port}" for n in cluster.nodes]
    node.config.write_text(json.dumps(config))
    node.start()
    try:
        time.sleep(5)  # routes are tried at once, then every second
        assert impostor.peers(node) == set()
        assert all(cluster.peers(n) == members - {n.name} for n in cluster.nodes)
        assert "certificate" in node.log.read_text(errors="replace").lower()
    finally:
        node.kill()


def _agency_url(
    cluster: Cluster, password: str, monkeypatch: pytest.MonkeyPatch, ca: Path | None, scheme: str = "tls"
) -> str:
    password_file = cluster.root / "agency-password"
    password_file.write_text(password)
    monkeypatch.setenv("RELAIS_NATS_URL", cluster.urls(scheme))
    monkeypatch.setenv("RELAIS_NATS_USER", agency_user(AGENCY))
    monkeypatch.setenv("RELAIS_NATS_PASSWORD_FILE", str(password_file))
    if ca is not None:
        monkeypatch.setenv("RELAIS_NATS_CA_FILE", str(ca))
    else:
        monkeypatch.delenv("RELAIS_NATS_CA_FILE", raising=False)
    return config.nats_url()


async def test_an_agency_with_the_ca_and_its_password_connects_over_tls(
    tls_cluster: tuple[Cluster, Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster, ca, passwords = tls_cluster
    url = _agency_url(cluster, passwords[agency_user(AGENCY)], monkeypatch, ca)
    async with connected(url, bus.agency_client(AGENCY)) as nc:
        assert nc.connected_url is not None and nc.connected_url.scheme == "tls"
        await nc.publish(f"agencies.{AGENCY}.heartbeat", b"{}")
        await nc.flush(timeout=2)


@pytest.mark.parametrize("case", ["without the CA", "with a wrong password", "in plain text"])
async def test_an_agency_is_refused_without_the_ca_with_a_wrong_password_or_in_plain_text(
    tls_cluster: tuple[Cluster, Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    cluster, ca, passwords = tls_cluster
    password = passwords[agency_user(AGENCY)]
    url = {
        "without the CA": lambda: _agency_url(cluster, password, monkeypatch, None),
        "with a wrong password": lambda: _agency_url(cluster, password + "x", monkeypatch, ca),
        "in plain text": lambda: _agency_url(cluster, password, monkeypatch, None, scheme="nats"),
    }[case]()
    assert await never_connects(url, 6)


def test_a_ca_file_with_plain_urls_or_a_mix_of_schemes_is_refused(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    with pytest.raises(ValueError, match="not tls://"):
        config.nats_tls("nats://a:4222", {"RELAIS_NATS_CA_FILE": str(ca)})
    with pytest.raises(ValueError, match="mix"):
        config.nats_url({"RELAIS_NATS_URL": "tls://a:4222,nats://b:4222"})


async def test_a_tls_client_never_sends_its_password_to_a_server_that_skips_tls(tmp_path: Path) -> None:
    """Something at the address that greets in plain text without asking for TLS (a downgrade):
    nats-py would answer with CONNECT and the password in clear; the bus speaks TLS first."""
    received = bytearray()
    writers: list[asyncio.StreamWriter] = []

    async def impostor(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        writer.write(
            b'INFO {"server_id":"x","version":"2.15.1","max_payload":1048576,"auth_required":true}\r\n'
        )
        await writer.drain()
        with contextlib.suppress(ConnectionError):
            while chunk := await reader.read(4096):
                received.extend(chunk)

    port = free_port()
    server = await asyncio.start_server(impostor, "127.0.0.1", port)
    try:
        url = f"tls://agency-lyon:s3cret-password@127.0.0.1:{port}"
        assert await never_connects(url, 3)
    finally:
        server.close()
        for writer in writers:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
    assert writers, "the client never came"
    assert b"s3cret-password" not in received
    assert b"CONNECT" not in received


def test_relais_backup_reads_the_bus_from_a_tls_cluster(
    tls_cluster: tuple[Cluster, Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`relais backup` in the cluster deployment: the hub's URLs (every node, tls://) and its CA."""
    cluster, ca, passwords = tls_cluster
    monkeypatch.setenv("RELAIS_NATS_CA_FILE", str(ca))
    url = ",".join(
        u.replace("tls://", f"tls://hub:{passwords['hub']}@") for u in cluster.urls("tls").split(",")
    )

    async def declare() -> None:
        async with connected(url) as nc:
            await bus.ensure_streams(nc.jetstream(), replicas=3)

    asyncio.run(declare())
    data = tmp_path / "data"
    data.mkdir()
    assert backups.backup(tmp_path / "backup", {"data": data}, url) == 0
    assert {p.stem for p in (tmp_path / "backup").rglob("*.jsonl")} >= set(STREAMS)
