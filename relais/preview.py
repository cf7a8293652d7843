"""`relais preview`: how a text would be rendered on each network, offline, with no token.

`--json` prints exactly what `POST /v1/preview` answers (both call `shared.networks.preview`);
without it, a table for people, then every part as it would be sent.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from shared import config
from shared.networks import KNOWN_NETWORKS
from shared.networks.preview import preview
from shared.post_input import InputError, check_preview

__all__ = ["add_parser", "run"]


def add_parser(commands: Any) -> None:
    """Register `preview` on the CLI's subcommands."""
    parser = commands.add_parser(
        "preview", help="show how a text is rendered on each network (length, limit, parts, errors)"
    )
    parser.add_argument("text", nargs="?", help="the post's text (default: read standard input)")
    parser.add_argument("--json", action="store_true", help="print the same JSON as POST /v1/preview")
    parser.add_argument(
        "--network",
        action="append",
        dest="networks",
        metavar="N",
        help=f"a network to render for (repeatable; default: all of {', '.join(KNOWN_NETWORKS)})",
    )
    parser.add_argument("--link", help="a link added on its own line")
    parser.add_argument(
        "--policy",
        action="append",
        metavar="P",
        help="thread, truncate or reject for every network, or NETWORK=P (repeatable)",
    )
    parser.add_argument("--content-warning", metavar="CW", help="Mastodon's content warning")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    text = args.text if args.text not in (None, "-") else stdin.read()
    body: dict[str, Any] = {"text": text, "networks": args.networks or list(KNOWN_NETWORKS)}
    if args.link is not None:
        body["link"] = args.link
    if args.content_warning is not None:
        body["content_warning"] = args.content_warning
    try:
        if args.policy:
            body["policy"] = _policy(args.policy)
        wanted = check_preview(body)
    except InputError as exc:
        where = f"{exc.field}: " if exc.field and not exc.message.startswith(exc.field) else ""
        print(f"relais: {where}{exc.message}", file=sys.stderr)
        return 2
    shown = preview(
        wanted.text,
        wanted.networks,
        link=wanted.link,
        policy=wanted.policy,
        content_warning=wanted.content_warning,
        options=config.network_options(),
    )
    if args.json:
        stdout.write(json.dumps(shown, ensure_ascii=False, indent=2) + "\n")
    else:
        stdout.write(table(shown))
    return 0


def _policy(values: list[str]) -> str | dict[str, str]:
    """`["thread"]` → "thread"; `["x=thread", "linkedin=reject"]` → a policy per network."""
    if len(values) == 1 and "=" not in values[0]:
        return values[0]
    chosen = {}
    for value in values:
        network, sep, policy = value.partition("=")
        if not sep:
            raise InputError(
                422, "invalid_policy", f"give one policy, or NETWORK=P each time: {value!r}", "policy"
            )
        chosen[network.strip()] = policy.strip()
    return chosen


def table(shown: dict[str, Any]) -> str:
    """The preview for people: one line per network, then each part as it would be sent."""
    rows = [("NETWORK", "LENGTH", "LIMIT", "UNIT", "FITS", "PARTS", "NOTES")]
    for v in shown["variants"]:
        notes = [f"{o['unit']} {o['length']}/{o['limit']}" for o in v["other_limits"]]
        if v["policy"] and not v["errors"]:
            notes.append(v["policy"])
        notes += [e["message"] for e in v["errors"]]
        fits = "yes" if v["fits"] else "no"
        rows.append(
            (
                v["network"],
                str(v["length"]),
                str(v["limit"]),
                v["unit"],
                fits,
                str(len(v["parts"])),
                "; ".join(notes),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(6)]
    lines = []
    for row in rows:
        cells = [row[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(row[1:3], widths[1:3], strict=True))]
        cells += [row[3].ljust(widths[3]), row[4].ljust(widths[4]), row[5].rjust(widths[5]), row[6]]
        lines.append("  ".join(cells).rstrip())
    for v in shown["variants"]:
        for number, part in enumerate(v["parts"], 1):
            lines.append(f"\n── {v['network']} {number}/{len(v['parts'])} ({part['length']} {v['unit']}) ──")
            lines.append(part["text"])
    return "\n".join(lines) + "\n"
