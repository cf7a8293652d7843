"""The alert rules of deploy/prometheus/ are valid (`promtool check rules`) and fire exactly when
their test series say (`promtool test rules`): an agency offline for more than an hour, dead
letters, a page to reconnect, a moderation queue older than 4 h, a consumer falling behind, a page
throttled for long, a service without its bus.

promtool comes from Debian's `prometheus` package (`make promtool`, run by `make test`); where it
cannot be had, these tests fail saying so rather than skip.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

RULES = Path(__file__).resolve().parent.parent / "deploy" / "prometheus"


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail(
            "promtool is not installed: run `make promtool` (Debian's `prometheus` package, installed "
            "with apt as root or through sudo -n)"
        )
    return found


@pytest.mark.parametrize("command", [["check", "rules", "alerts.yml"], ["test", "rules", "alerts_test.yml"]])
def test_promtool_accepts_the_rules(promtool: str, command: list[str]) -> None:
    result = subprocess.run([promtool, *command], cwd=RULES, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_rule_is_tested() -> None:
    """An alert added without test series fails here (promtool alone would pass it)."""
    rules = yaml.safe_load((RULES / "alerts.yml").read_text())
    tests = yaml.safe_load((RULES / "alerts_test.yml").read_text())
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    tested = {case["alertname"] for test in tests["tests"] for case in test["alert_rule_test"]}
    assert alerts and alerts == tested


def test_the_scrape_configuration_is_valid(promtool: str, tmp_path: Path) -> None:
    """deploy/prometheus/prometheus.yml, with the ops token file it names beside it."""
    for name in ("prometheus.yml", "alerts.yml"):
        shutil.copy(RULES / name, tmp_path / name)
    (tmp_path / "ops.token").write_text("a token made by `relais token create --role ops`")
    result = subprocess.run(
        [promtool, "check", "config", "prometheus.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
