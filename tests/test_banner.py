"""`make run`'s banner: what it tells a person to paste into another terminal must work pasted.

It once ended its lines in two backslashes (so the command stopped at the first line) and used
`$ADMIN` without ever defining it. Here the banner's own lines are run by bash, as a paste into an
interactive terminal would run them (history expansion on), with a stand-in `curl` on the PATH that
records what it was asked and answers the post's id.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

from relais.banner import banner_text
from relais.system import Ports

PORTS = Ports.from_env({})
ADVISOR, ADMIN = (
    "eyJhbGciOiJFZERTQSJ9.eyJyb2xlIjoiYWR2aXNvciJ9.c2ln-_a",
    "eyJhbGciOiJFZERTQSJ9.YWRtaW4.c2ln_-b",
)
POST_ID = "lyon-part-dieu-01KBANNER"

FAKE_CURL = f"""#!/bin/sh
# Records each call's arguments, each ended by a NUL, then a record separator (0x1E); answers a
# POST with the post's id.
printf '%s\\0' "$@" >> "$CALLS"
printf '\\036' >> "$CALLS"
case " $* " in *" POST "*) printf '{{"id": "{POST_ID}", "status": "queued"}}' ;; *) printf '{{}}\\n' ;; esac
"""


def pasted_lines(banner: str) -> str:
    """What a person selects: every line after the "paste these lines" prompt, as printed."""
    return banner.split("paste these lines into another terminal.\n", 1)[1]


def run_pasted(script: str, tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], list[list[str]]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    curl = bin_dir / "curl"
    curl.write_text(FAKE_CURL)
    curl.chmod(curl.stat().st_mode | stat.S_IXUSR)
    calls = tmp_path / "calls"
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "CALLS": str(calls)}
    env.pop("TOKEN", None), env.pop("ADMIN", None)
    shell = f'set -o history -o histexpand\n{script}\nprintf \'%s\\n\' "$TOKEN" "$ADMIN" "$ID"\n'
    done = subprocess.run(["bash", "-c", shell], env=env, capture_output=True, text=True, timeout=30)
    recorded = calls.read_text() if calls.exists() else ""
    return done, [call.split("\0")[:-1] for call in recorded.split("\x1e")[:-1]]


def banner() -> str:
    return banner_text(
        PORTS, ["lyon-part-dieu", "rennes-sud"], ADVISOR, ADMIN, Path("var"), ("m", "pw"), ("c", "pw2")
    )


def test_the_banner_commands_are_valid_shell() -> None:
    script = pasted_lines(banner())
    checked = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
    assert not any(line.endswith("\\\\") for line in banner().splitlines())


def test_pasted_the_banner_defines_both_tokens_and_runs_each_command(tmp_path: Path) -> None:
    done, calls = run_pasted(pasted_lines(banner()), tmp_path)

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-3:] == [ADVISOR, ADMIN, POST_ID]
    post, show, audit = calls
    assert f"http://127.0.0.1:{PORTS.intake}/v1/posts" in post and "POST" in post
    assert f"Authorization: Bearer {ADVISOR}" in post
    body = json.loads(post[post.index("-d") + 1])  # one argument, valid JSON, as the intake reads it
    assert body["networks"] == ["x", "mastodon", "bluesky", "linkedin", "facebook"]
    assert "#emploi" in body["text"] and "!" in body["text"]  # history expansion left it alone
    assert f"http://127.0.0.1:{PORTS.intake}/v1/posts/{POST_ID}" in show
    assert f"Authorization: Bearer {ADVISOR}" in show
    assert f"http://127.0.0.1:{PORTS.hub}/v1/audit?post_id={POST_ID}" in audit
    assert f"Authorization: Bearer {ADMIN}" in audit
