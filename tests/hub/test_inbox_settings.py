"""The inbox's settings at the hub: defaults as the issue gives them (4 business hours; 50 % to the
region, 90 % to the hub team), and every bad value refused at start, naming its variable."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from services.hub.inbox_settings import InboxSettings
from shared.business_hours import CalendarsError


def test_the_defaults_are_the_issues() -> None:
    settings = InboxSettings.from_env({})
    assert settings.target == timedelta(hours=4)
    assert settings.levels() == [("region", 0.5), ("hub", 0.9)]
    assert settings.escalate_every == 30.0


def test_each_setting_is_read() -> None:
    settings = InboxSettings.from_env(
        {
            "RELAIS_INBOX_TARGET": "1h30m",
            "RELAIS_INBOX_ESCALATE_AT": "0.25, 1",
            "RELAIS_INBOX_ESCALATE_EVERY": "5",
        }
    )
    assert (settings.target, settings.levels(), settings.escalate_every) == (
        timedelta(minutes=90),
        [("region", 0.25), ("hub", 1.0)],
        5.0,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RELAIS_INBOX_TARGET", "4 hours"),
        ("RELAIS_INBOX_TARGET", "0m"),
        ("RELAIS_INBOX_ESCALATE_AT", "0.5"),  # one level short
        ("RELAIS_INBOX_ESCALATE_AT", "0.5,0.9,1"),
        ("RELAIS_INBOX_ESCALATE_AT", "0.9,0.5"),  # the hub team before the region
        ("RELAIS_INBOX_ESCALATE_AT", "0.5,0.5"),
        ("RELAIS_INBOX_ESCALATE_AT", "0,0.9"),
        ("RELAIS_INBOX_ESCALATE_AT", "0.5,1.5"),
        ("RELAIS_INBOX_ESCALATE_AT", "nan,0.9"),
        ("RELAIS_INBOX_ESCALATE_AT", "half,0.9"),
        ("RELAIS_INBOX_ESCALATE_EVERY", "0"),
        ("RELAIS_INBOX_ESCALATE_EVERY", "soon"),
        ("RELAIS_INBOX_ESCALATE_EVERY", "inf"),
    ],
)
def test_a_bad_value_is_refused_naming_its_variable(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        InboxSettings.from_env({name: value})


def test_a_bad_calendars_file_stops_the_hub(tmp_path: Path) -> None:
    path = tmp_path / "calendars.toml"
    path.write_text('[regions]\nbretagne = "fr-armorique"\n', encoding="utf-8")
    with pytest.raises(CalendarsError, match=r"regions\.bretagne"):
        InboxSettings.from_env({"RELAIS_CALENDARS_FILE": str(path)})
