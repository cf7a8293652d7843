"""Settings every service reads the same way (`shared.config`)."""

from __future__ import annotations

from pathlib import Path

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
