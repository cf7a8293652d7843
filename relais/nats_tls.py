"""The certificates of the hub's NATS when agency nodes reach it across networks (`relais init
--nats-tls`): a deployment's own CA, and one server certificate for every name and address the
nodes of the cluster are reached by.

The CA's private key stays in init's own folder: it signs the server certificate and nothing else
ever needs it. nats-server gets the server certificate and its key; every client (the hub's services,
each agency node) gets only the CA's certificate, to check that the server it talks to is the hub's.
The CA is made once and never replaced (every agency holds it); the server certificate is issued
again when the names asked for change or it nears its end.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from shared.private_files import write_private

__all__ = ["CA_CERT", "SERVER_CERT", "SERVER_KEY", "server_names", "write_tls"]

CA_CERT = "ca.pem"
CA_KEY = "ca-key.pem"
SERVER_CERT = "server.pem"
SERVER_KEY = "server-key.pem"

CA_LIFETIME = timedelta(days=3650)
SERVER_LIFETIME = timedelta(days=825)  # the longest a server certificate may live for common clients
RENEW_BEFORE = timedelta(days=30)


def write_tls(directory: Path, names: list[str]) -> None:
    """The CA (if missing) and a server certificate valid for `names` (host names or IP addresses)
    in `directory`, every file private to its owner."""
    if not names:
        raise ValueError("a server certificate needs at least one host name or address")
    ca_key, ca_cert = _load_or_create_ca(directory)
    current = directory / SERVER_CERT
    if current.exists() and not _needs_new(x509.load_pem_x509_certificate(current.read_bytes()), names):
        return
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + SERVER_LIFETIME)
        .add_extension(x509.SubjectAlternativeName([_general_name(n) for n in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    write_private(directory / SERVER_KEY, _private_pem(key))
    write_private(current, cert.public_bytes(serialization.Encoding.PEM))


def server_names(raw: str) -> list[str]:
    """`nats,nats-2,10.0.0.5` as a list (a certificate's names, from one command-line value)."""
    return [name.strip() for name in raw.split(",") if name.strip()]


def _load_or_create_ca(directory: Path) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key_file, cert_file = directory / CA_KEY, directory / CA_CERT
    if key_file.exists() and cert_file.exists():
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey), "the CA key is not the EC key init writes"
        return key, x509.load_pem_x509_certificate(cert_file.read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Relais NATS CA")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    write_private(key_file, _private_pem(key))
    write_private(cert_file, cert.public_bytes(serialization.Encoding.PEM))
    (directory / SERVER_CERT).unlink(missing_ok=True)  # signed by a CA that is gone
    return key, cert


def _needs_new(cert: x509.Certificate, names: list[str]) -> bool:
    alternative = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    held = {str(n.value) for n in alternative}
    return held != set(names) or cert.not_valid_after_utc - datetime.now(UTC) < RENEW_BEFORE


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _private_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
