"""`relais init --nats-tls`: a CA made once, a server certificate for the names asked, and what each
role gets (nats-server its certificate and key, every client the CA's certificate alone)."""

from __future__ import annotations

import ipaddress
import stat
from pathlib import Path

import pytest
from cryptography import x509

from relais import nats_tls
from relais.cli import main


def _names(cert: Path) -> set[str]:
    loaded = x509.load_pem_x509_certificate(cert.read_bytes())
    return {
        str(n.value) for n in loaded.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    }


def test_init_gives_the_server_its_certificate_and_clients_only_the_ca(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELAIS_DATA_DIR", str(tmp_path / "data"))
    state, server, ca = tmp_path / "tls", tmp_path / "server", tmp_path / "clients" / "ca.pem"
    argv = ["init", "--nats-tls", str(state), "nats,nats-2,192.0.2.7", "--nats-server-tls", str(server)]
    assert main([*argv, "--nats-ca", str(ca)]) == 0

    # The CA's certificate too: each node checks the others' routes against it.
    assert sorted(p.name for p in server.iterdir()) == sorted(
        [nats_tls.SERVER_KEY, nats_tls.SERVER_CERT, nats_tls.CA_CERT]
    )
    assert [p.name for p in ca.parent.iterdir()] == ["ca.pem"]  # never the CA's key
    assert _names(server / nats_tls.SERVER_CERT) == {"nats", "nats-2", "192.0.2.7"}
    loaded = x509.load_pem_x509_certificate((server / nats_tls.SERVER_CERT).read_bytes())
    ip = loaded.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ip.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("192.0.2.7")]
    issuer = x509.load_pem_x509_certificate(ca.read_bytes())
    loaded.verify_directly_issued_by(issuer)
    for written in [*state.iterdir(), *server.iterdir(), ca]:
        assert stat.S_IMODE(written.stat().st_mode) == 0o600, written


def test_the_ca_is_never_replaced_and_the_server_certificate_follows_the_names(tmp_path: Path) -> None:
    nats_tls.write_tls(tmp_path, ["nats"])
    ca, cert = (tmp_path / "ca.pem").read_bytes(), (tmp_path / nats_tls.SERVER_CERT).read_bytes()
    nats_tls.write_tls(tmp_path, ["nats"])
    assert (tmp_path / "ca.pem").read_bytes() == ca
    assert (tmp_path / nats_tls.SERVER_CERT).read_bytes() == cert  # nothing asked changed

    nats_tls.write_tls(tmp_path, ["nats", "hub.example.org"])
    assert (tmp_path / "ca.pem").read_bytes() == ca  # every agency keeps the CA it was given
    assert _names(tmp_path / nats_tls.SERVER_CERT) == {"nats", "hub.example.org"}


def test_exports_of_certificates_need_nats_tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAIS_DATA_DIR", str(tmp_path / "data"))
    assert main(["init", "--nats-ca", str(tmp_path / "ca.pem")]) == 2
    assert not (tmp_path / "ca.pem").exists()
