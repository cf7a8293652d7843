"""Settings every service reads the same way (`shared.config`)."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from relais import nats_tls
from shared import config


def test_the_nats_password_is_read_from_its_file_into_the_url(tmp_path: Path) -> None:
    password = tmp_path / "password-agency-lyon"
    password.write_text("p@ss:w/rd\n")
    env = {
        "RELAIS_NATS_URL": "nats://old:creds@nats:4222",
        "RELAIS_NATS_USER": "agency-lyon",
        "RELAIS_NATS_PASSWORD_FILE": str(password),
    }

    assert config.nats_url(env) == "nats://agency-lyon:p%40ss%3Aw%2Frd@nats:4222"


def test_without_a_password_file_the_url_is_used_as_given() -> None:
    assert config.nats_url({"RELAIS_NATS_URL": "nats://u:p@hub:4222"}) == "nats://u:p@hub:4222"
    assert config.nats_url({"RELAIS_NATS_USER": "hub"}) == config.DEFAULT_NATS_URL


def test_every_node_of_a_cluster_gets_the_user_and_password(tmp_path: Path) -> None:
    password = tmp_path / "password-hub"
    password.write_text("s3cret\n")
    env = {
        "RELAIS_NATS_URL": "tls://nats:4222, tls://old:creds@nats-2:4222 ,tls://nats-3:4222",
        "RELAIS_NATS_USER": "hub",
        "RELAIS_NATS_PASSWORD_FILE": str(password),
    }

    url = config.nats_url(env)

    assert config.nats_servers(url) == [
        "tls://hub:s3cret@nats:4222",
        "tls://hub:s3cret@nats-2:4222",
        "tls://hub:s3cret@nats-3:4222",
    ]


@pytest.mark.parametrize("url", ["", " , ", "nats:4222", "nats://a:4222,b:4222"])
def test_what_is_not_a_list_of_nats_urls_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="not a NATS URL"):
        config.nats_servers(url)


def test_an_error_about_the_urls_never_shows_a_password() -> None:
    with pytest.raises(ValueError) as refused:
        config.nats_servers("nats://hub:s3cret@a:4222,b:4222")
    assert "s3cret" not in str(refused.value)


def test_the_replicas_default_to_one_and_stay_within_what_jetstream_allows() -> None:
    assert config.stream_replicas({}) == 1
    assert config.stream_replicas({"RELAIS_STREAM_REPLICAS": "3"}) == 3
    for wrong in ("0", "6", "-1", "three"):
        with pytest.raises(ValueError, match="RELAIS_STREAM_REPLICAS"):
            config.stream_replicas({"RELAIS_STREAM_REPLICAS": wrong})


def test_tls_urls_are_checked_against_the_given_ca(tmp_path: Path) -> None:
    folder = tmp_path / "tls"
    nats_tls.write_tls(folder, ["nats"])
    context = config.nats_tls("tls://nats:4222", {"RELAIS_NATS_CA_FILE": str(folder / nats_tls.CA_CERT)})
    assert context is not None and context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "Relais NATS CA"),),)]
    assert config.nats_tls("nats://nats:4222", {}) is None
