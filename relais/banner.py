"""What `relais run` prints once everything is up: the addresses, the demo sign-in, and commands a
person pastes into another terminal as they are.

The commands are a shell script in their own right: the tokens are exported under the names the
commands (and the README) use, `TOKEN` and `ADMIN`; every continued line ends in one backslash;
the post's id is captured, not left for the reader to copy. `tests/test_banner.py` runs them.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from relais.system import Ports

__all__ = ["banner_text", "try_commands"]

_EXAMPLE = {
    "text": "Job dating logistique jeudi 10 h à Lyon Part-Dieu ! #emploi",
    "networks": ["x", "mastodon", "bluesky", "linkedin", "facebook"],
}


def try_commands(ports: Ports, advisor: str, admin: str) -> str:
    """The pasteable part: export the tokens, post as the advisor, read the post and its audit."""
    intake, hub = f"http://127.0.0.1:{ports.intake}", f"http://127.0.0.1:{ports.hub}"
    read_id = "python3 -c 'import json, sys; print(json.load(sys.stdin)[\"id\"])'"
    text, networks = (json.dumps(_EXAMPLE[key], ensure_ascii=False) for key in ("text", "networks"))
    return f"""export TOKEN={shlex.quote(advisor)} ADMIN={shlex.quote(admin)}
ID=$(curl -s -X POST {intake}/v1/posts -H "Authorization: Bearer $TOKEN" \\
       -H 'Content-Type: application/json' \\
       -d '{{"text": {text},
            "networks": {networks}}}' \\
     | {read_id})
curl -s {intake}/v1/posts/$ID -H "Authorization: Bearer $TOKEN"
curl -s "{hub}/v1/audit?post_id=$ID" -H "Authorization: Bearer $ADMIN"
"""


def banner_text(
    ports: Ports,
    agencies: list[str],
    advisor: str,
    admin: str,
    data_dir: Path,
    moderator: tuple[str, str],
    advisor_account: tuple[str, str],
) -> str:
    """The whole banner; `moderator` and `advisor_account` are the demo accounts' names and
    passwords (the dashboard's, and the first agency's node's)."""
    intakes = "\n".join(
        f"  intake {a:<22} http://127.0.0.1:{ports.intake_for(i)}" for i, a in enumerate(agencies)
    )
    commands = "".join(f"  {line}\n" for line in try_commands(ports, advisor, admin).splitlines())
    return f"""Relais is running. Ctrl-C stops everything.

  hub dashboard                 http://127.0.0.1:{ports.hub}/dashboard
                                (sign in as {moderator[0]} / {moderator[1]})
{intakes}
  composer (advisors)           http://127.0.0.1:{ports.intake_for(0)}/
                                (sign in as {advisor_account[0]} / {advisor_account[1]}, {agencies[0]})
  sandbox networks              http://127.0.0.1:{ports.sandbox}/
  NATS                          nats://127.0.0.1:{ports.nats}
  logs                          {data_dir}/logs/

Advisor token ({agencies[0]}): $TOKEN below. Admin token: $ADMIN below.

Try it: paste these lines into another terminal.
{commands}"""
