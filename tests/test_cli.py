"""The command line against its documentation, and its dispatch (issue 13: `relais/cli.py:main` was
one `match` whose fall-through ran another command's code).

Policy, by hand:
- `relais --help` and every command's `--help` (run as the installed `relais`) show exactly the
  commands of the README's command table, each with exactly the options and arguments its rows show;
  an option the help shows as required is written unbracketed in each of its command's rows;
- every command reachable on the command line runs its own function;
- an unknown command, or a command without its action, is argparse's usage error: exit 2, usage on
  standard error, nothing on standard output, nothing written.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from relais import cli

ROOT = Path(__file__).resolve().parent.parent
RELAIS = Path(sys.executable).parent / "relais"  # the installed entry point
OPTION = re.compile(r"--[a-z][a-z-]*")


@dataclass
class Usage:
    """What one command's documentation (or help) says it takes."""

    options: set[str] = field(default_factory=set)
    required_options: set[str] = field(default_factory=set)
    required_arguments: int = 0
    optional_arguments: int = 0


# The README's table.


def readme_rows() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Command line\n", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| `relais")]


def documented_invocations() -> list[tuple[tuple[str, ...], Usage]]:
    """Each `relais …` of the table's first column: its command path and what it shows."""
    found = []
    for row in readme_rows():
        first_cell = re.split(r"(?<!\\)\|", row)[1]
        for invocation in re.findall(r"`(relais [^`]*)`", first_cell):
            found.append(_documented(invocation.replace("\\|", "|")))
    return found


def _documented(invocation: str) -> tuple[tuple[str, ...], Usage]:
    words = invocation.split()[1:]
    path = []
    while words and re.fullmatch(r"[a-z]+", words[0]):
        path.append(words.pop(0))
    rest = " ".join(words)
    groups = re.findall(r"\[([^\]]*)\]", rest)
    outside = re.sub(r"\[[^\]]*\]", " ", rest).split()
    usage = Usage(options=set(OPTION.findall(rest)))
    usage.required_options = {w for w in outside if OPTION.fullmatch(w)}
    usage.required_arguments = sum(
        1
        for before, word in zip(["--", *outside], outside, strict=False)
        if re.fullmatch(r"[A-Z][A-Z_]*", word) and not OPTION.fullmatch(before)
    )
    usage.optional_arguments = sum(1 for group in groups if not group.startswith("-"))
    return tuple(path), usage


def readme_commands() -> dict[tuple[str, ...], list[Usage]]:
    commands: dict[tuple[str, ...], list[Usage]] = defaultdict(list)
    for path, usage in documented_invocations():
        commands[path].append(usage)
    return dict(commands)


# `relais … --help`, as a person runs it.


def help_text(path: tuple[str, ...]) -> str:
    """What `relais <path> --help` prints: the installed command's own output at the top, the
    parser's below it (the same text; thirty processes took half a minute of CI)."""
    if path:
        command = cli.parser()
        for name in path:
            (choices,) = [a for a in command._actions if isinstance(a, argparse._SubParsersAction)]
            command = choices.choices[name]
        return command.format_help()
    env = {**os.environ, "COLUMNS": os.environ["COLUMNS"]}  # the width the test set for both
    done = subprocess.run([str(RELAIS), "--help"], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == cli.parser().format_help()  # the installed entry point is this parser
    return done.stdout


def _sections(text: str) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current = "usage"
    for line in text.splitlines():
        if line and not line.startswith(" ") and line.endswith(":"):
            current = line[:-1]
        elif current:
            sections.setdefault(current, []).append(line)
    return sections


def parse_help(text: str) -> tuple[list[str], Usage]:
    """The actions a command offers (none for a command that runs), and what it takes."""
    usage_text = " ".join(text.split("\n\n", 1)[0].split())
    sections = _sections(text)
    entries = [
        line[2:].split("  ")[0]
        for line in sections.get("positional arguments", [])
        if re.match(r"  \S", line)
    ]
    actions = [a for e in entries if e.startswith("{") for a in e.strip("{}").split(",")]
    arguments = [e for e in entries if not e.startswith("{")]
    usage = Usage()
    for line in sections.get("options", []):
        if re.match(r"  -", line):
            usage.options |= set(OPTION.findall(line[2:].split("  ")[0])) - {"--help"}
    usage.required_options = {o for o in usage.options if not re.search(r"\[" + o + r"\b", usage_text)}
    usage.optional_arguments = sum(1 for a in arguments if f"[{a}]" in usage_text)
    usage.required_arguments = len(arguments) - usage.optional_arguments
    return actions, usage


def help_commands() -> dict[tuple[str, ...], Usage]:
    """Every command `relais --help` leads to, level by level, with what its own help shows."""
    found: dict[tuple[str, ...], Usage] = {}
    level: list[tuple[str, ...]] = [()]
    with ThreadPoolExecutor(max_workers=4) as pool:
        while level:
            helps = list(pool.map(help_text, level))
            following = []
            for path, text in zip(level, helps, strict=True):
                actions, usage = parse_help(text)
                if actions:
                    following += [(*path, action) for action in actions]
                else:
                    found[path] = usage
            level = following
    return found


def test_the_help_shows_the_commands_of_the_readme_table_with_their_options(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "100")  # argparse wraps to the terminal's width, and so must both sides
    documented = readme_commands()
    shown = help_commands()

    assert sorted(shown) == sorted(documented)
    for path, usage in shown.items():
        rows = documented[path]
        name = " ".join(path)
        assert usage.options == set().union(*(row.options for row in rows)), name
        for row in rows:
            assert usage.required_options <= row.required_options, name
            assert (row.required_arguments, row.optional_arguments) == (
                usage.required_arguments,
                usage.optional_arguments,
            ), name


def test_the_readme_table_parses_as_written() -> None:
    # The reading above, checked on rows whose meaning is known by hand.
    documented = readme_commands()
    assert len(documented) >= 18
    token = documented["token", "create"]
    assert {"--role", "--agency", "--subject", "--ttl-days", "--region"} == set().union(
        *(r.options for r in token)
    )
    assert all("--role" in r.required_options for r in token)
    (restore,) = documented[("restore",)]
    assert (restore.required_arguments, restore.optional_arguments) == (1, 0)
    (preview,) = documented[("preview",)]
    assert (preview.required_arguments, preview.optional_arguments) == (0, 1)
    (agency,) = documented[("agency",)]
    assert agency.required_options == {"--id", "--hub"} and agency.required_arguments == 0


# Dispatch.


def leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], object]:
    """Every command path the parser accepts, with the function it runs (None if it has none)."""
    subcommands = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subcommands:
        return {path: parser.get_default("run")}
    found: dict[tuple[str, ...], object] = {}
    for name, child in subcommands[0].choices.items():
        found |= leaves(child, (*path, name))
    return found


def test_every_command_runs_a_function_of_its_own() -> None:
    commands = leaves(cli.parser())
    assert len(commands) >= 18
    assert {path: run for path, run in commands.items() if not callable(run)} == {}
    # One function per command; `ctl`'s actions are one request to the supervisor, told apart there.
    runs = defaultdict(list)
    for path, run in commands.items():
        runs[run].append(path)
    assert [paths for paths in runs.values() if len({p[0] for p in paths}) > 1] == []


@pytest.mark.parametrize(
    "argv",
    [["nosuch"], ["tokens", "create", "--role", "admin"], ["token", "nosuch"], ["token"], ["audit"], []],
    ids=" ".join,
)
def test_an_unknown_or_incomplete_command_is_a_usage_error(tmp_path: Path, argv: list[str]) -> None:
    data_dir = tmp_path / "data"
    env = {**os.environ, "RELAIS_DATA_DIR": str(data_dir)}
    done = subprocess.run(
        [str(RELAIS), *argv], capture_output=True, text=True, env=env, timeout=120, check=False
    )

    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("usage: relais") and "error:" in done.stderr
    assert not data_dir.exists()


# relais inbox deadline (issue 15 item 3). Policy, by hand: the deadline alone on standard output, as
# `YYYY-MM-DDTHH:MM:SS±HH:MM` with the offset in force at the deadline in the calendar's zone (never
# `Z`); TIME without an offset is a wall-clock time in the calendar's zone; DURATION is `4h`, `90m` or
# `1h30m` (default 4h); a bad argument exits 2 with a message on standard error and nothing on
# standard output. Expected deadlines are computed by hand in the comments.

DEADLINE_FORMAT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d\n")


def inbox_deadline(
    tmp_path: Path, *argv: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(RELAIS), "inbox", "deadline", *argv],
        capture_output=True,
        text=True,
        env={**os.environ, "RELAIS_DATA_DIR": str(tmp_path / "data"), **(env or {})},
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        # Default 4h. Fri 26 Mar 2027 16:00 in Paris (no offset: read as +01:00): 1h Friday; Sunday 28th
        # the clocks go forward; Monday 29th is Easter Monday; Tue 30 Mar 09:00 + 3h = 12:00+02:00.
        (["--calendar", "fr-metropole", "--received", "2027-03-26T16:00:00"], "2027-03-30T12:00:00+02:00\n"),
        # An offset given: 11:00Z is 15:00 in Réunion, Fri 17 Dec 2027: 2h; Mon 20 Dec closed (abolition
        # of slavery); Tue 21 Dec 09:00 + 2h = 11:00+04:00.
        (["--calendar", "fr-reunion", "--received", "2027-12-17T11:00:00Z"], "2027-12-21T11:00:00+04:00\n"),
        # Ramadan in Morocco, at +00:00 (printed as +00:00, not Z): Wed 17 Feb 2027 13:00 + 90m = 14:30.
        (
            ["--calendar", "ma", "--received", "2027-02-17T13:00", "--target", "90m"],
            "2027-02-17T14:30:00+00:00\n",
        ),
        # 1h30m from Guyane's closing time (Wed 9 Jun 2027 17:00−03:00): Thu 10 Jun closed (abolition of
        # slavery); Fri 11 Jun 09:00 + 1h30 = 10:30−03:00.
        (
            ["--calendar", "fr-guyane", "--received", "2027-06-09T17:00:00-03:00", "--target", "1h30m"],
            "2027-06-11T10:30:00-03:00\n",
        ),
        # A deadline at closing time stays there: Tue 2 Feb 2027 13:00 + 4h = 17:00, not Wed 09:00.
        (["--calendar", "fr-metropole", "--received", "2027-02-02T13:00"], "2027-02-02T17:00:00+01:00\n"),
        # A fraction of a second is dropped, never rounded up: 12:59:59.5 + 4h = 16:59:59.5 → 16:59:59.
        (
            ["--calendar", "fr-metropole", "--received", "2027-02-02T12:59:59.5"],
            "2027-02-02T16:59:59+01:00\n",
        ),
        # 20h from Thu 4 Feb 2027 14:00: 3h + 8h Fri + 8h Mon + 1h Tue → Tue 9 Feb 10:00.
        (
            ["--calendar", "fr-metropole", "--received", "2027-02-04T14:00", "--target", "20h"],
            "2027-02-09T10:00:00+01:00\n",
        ),
    ],
)
def test_inbox_deadline_prints_the_deadline_and_nothing_else(
    tmp_path: Path, argv: list[str], expected: str
) -> None:
    done = inbox_deadline(tmp_path, *argv)

    assert (done.returncode, done.stdout, done.stderr) == (0, expected, "")
    assert DEADLINE_FORMAT.fullmatch(done.stdout)


RECEIVED = ["--received", "2027-02-02T10:00"]


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--calendar", "fr-paris", *RECEIVED], "relais: no calendar 'fr-paris'"),
        (["--calendar", "fr-metropole", "--received", "tomorrow"], "relais: not an ISO 8601 date and time"),
        (["--calendar", "fr-metropole", "--received", "2027-02-30T10:00"], "'2027-02-30T10:00'"),
        (["--calendar", "fr-metropole", *RECEIVED, "--target", "4"], "relais: a duration is written like"),
        (["--calendar", "fr-metropole", *RECEIVED, "--target=-4h"], "got '-4h'"),
        (["--calendar", "fr-metropole", *RECEIVED, "--target", "0h"], "more than 0"),
        (["--calendar", "fr-metropole", *RECEIVED, "--target", "1.5h"], "got '1.5h'"),
        (["--calendar", "fr-metropole", *RECEIVED, "--target", "30m1h"], "got '30m1h'"),
        (["--calendar", "fr-metropole", *RECEIVED, "--target", "99999999h"], "at most 8760h"),
        # Past the last date a datetime can hold, and before the first one once in UTC.
        (["--calendar", "fr-metropole", "--received", "9999-12-31T16:00"], "beyond the dates"),
        (["--calendar", "fr-metropole", "--received", "0001-01-01T00:00+05:00"], "beyond the dates"),
        # Ramadan's dates are unknown that far, and none configured.
        (["--calendar", "ma", "--received", "2090-02-02T10:00"], "give them in configuration"),
        # argparse's own usage errors, of this command.
        (["--calendar", "fr-metropole"], "usage: relais inbox deadline"),
        (["--calendar", "fr-metropole", *RECEIVED, "--target", "-4h"], "usage: relais inbox deadline"),
    ],
    ids=lambda value: " ".join(value[1:]) if isinstance(value, list) else "",
)
def test_inbox_deadline_refuses_a_bad_argument_with_exit_2(
    tmp_path: Path, argv: list[str], said: str
) -> None:
    done = inbox_deadline(tmp_path, *argv)

    assert (done.returncode, done.stdout) == (2, "")
    assert said in done.stderr and done.stderr.startswith(("relais: ", "usage: relais inbox deadline"))
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "data").exists()


def test_inbox_deadline_uses_the_calendars_file(tmp_path: Path) -> None:
    calendars = tmp_path / "calendars.toml"
    calendars.write_text(
        "# Ramadan 2027 announced a day after Umm al-Qura's 8 February\n"
        "[calendars.ma]\nramadan = [{ first = 2027-02-09, last = 2027-03-09 }]\n"
        '[calendars.ma-call-centre]\nfrom = "ma"\nhours = "08:00-20:00"\n',
        encoding="utf-8",
    )
    env = {"RELAIS_CALENDARS_FILE": str(calendars)}
    # Mon 8 Feb 2027 15:00 is no longer Ramadan: ordinary hours to 16:30 (1h30); Tue 9 Feb Ramadan
    # 09:00 + 2h30 = 11:30+00:00 (without the file: 15:00 is closing, Tue 09:00 + 4h = 13:00).
    done = inbox_deadline(tmp_path, "--calendar", "ma", "--received", "2027-02-08T15:00", env=env)
    assert (done.returncode, done.stdout) == (0, "2027-02-09T11:30:00+00:00\n")
    # A calendar of the file: Tue 2 Feb 2027 17:00 + 4h on 08:00–20:00 hours: 3h to 20:00, Wed 08:00 + 1h.
    done = inbox_deadline(tmp_path, "--calendar", "ma-call-centre", "--received", "2027-02-02T17:00", env=env)
    assert (done.returncode, done.stdout) == (0, "2027-02-03T09:00:00+01:00\n")


def test_inbox_deadline_names_the_bad_key_of_the_calendars_file(tmp_path: Path) -> None:
    calendars = tmp_path / "calendars.toml"
    calendars.write_text('[calendars.ma]\nramadan_hours = "15:00-09:00"\n', encoding="utf-8")

    done = inbox_deadline(
        tmp_path,
        "--calendar",
        "fr-metropole",
        "--received",
        "2027-02-02T10:00",
        env={"RELAIS_CALENDARS_FILE": str(calendars)},
    )

    assert (done.returncode, done.stdout) == (2, "")
    assert "calendars.ma.ramadan_hours" in done.stderr and str(calendars) in done.stderr
