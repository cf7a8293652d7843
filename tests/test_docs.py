"""The README is part of the contract: its message and configuration tables must match the code."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from services.intake.relay import OutboxRelay
from shared.schemas import MESSAGES

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")


def table(marker: str) -> list[list[str]]:
    block = README.split(f"<!-- {marker}:start -->")[1].split(f"<!-- {marker}:end -->")[0]
    rows = [line for line in block.strip().splitlines() if line.startswith("|")][2:]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]


def test_the_message_table_matches_the_bus_contract() -> None:
    documented = [(r[0], r[1].strip("`"), r[2], r[3], r[4]) for r in table("messages")]
    actual = [(m.type.__name__, m.subject, m.stream, m.producer, ", ".join(m.consumers)) for m in MESSAGES]
    assert documented == actual


def test_the_configuration_table_lists_exactly_the_variables_the_code_reads() -> None:
    used = set()
    for folder in ("services", "shared", "relais"):
        for path in (REPO / folder).rglob("*.py"):
            used |= set(re.findall(r"RELAIS_[A-Z_]+[A-Z]", path.read_text(encoding="utf-8")))
    used = {"RELAIS_API_URL_<NETWORK>" if name == "RELAIS_API_URL" else name for name in used}
    documented = {row[0].strip("`") for row in table("config")}
    assert documented == used


def test_the_readme_shows_both_commands() -> None:
    assert "make run" in README and "make test" in README


def test_every_relay_batch_size_in_the_readme_is_the_codes() -> None:
    """The README once said 256 in one place and 512 in another; the relay's default is the truth."""
    default = inspect.signature(OutboxRelay).parameters["batch"].default
    said = re.findall(r"\bbatch(?:es)? of (\d[\d,]*)", README)
    assert said, "the README no longer says how the relay batches"
    assert {int(n.replace(",", "")) for n in said} == {default}
