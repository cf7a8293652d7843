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
    done = subprocess.run(
        [str(RELAIS), *path, "--help"], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, (path, done.stderr)
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


def test_the_help_shows_the_commands_of_the_readme_table_with_their_options() -> None:
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
