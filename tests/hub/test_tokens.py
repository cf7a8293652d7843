"""Tokens are recorded at the hub by their hash and can be revoked; agency nodes learn revocations
from the hub and keep refusing them while offline."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable

from tests.harness import RelaisSystem, eventually, http

LYON = "lyon-part-dieu"


def relais_cli(relais: RelaisSystem, *args: str) -> str:
    env = {**os.environ, "RELAIS_DATA_DIR": str(relais.data_dir)}
    done = subprocess.run(
        [sys.executable, "-m", "relais.cli", *args], capture_output=True, text=True, env=env, check=True
    )
    return done.stdout.strip()


def test_a_revoked_token_is_refused_by_the_agency_even_offline(
    make_relais: Callable[..., RelaisSystem],
) -> None:
    relais = make_relais(proxied=True)
    token = relais_cli(
        relais, "token", "create", "--role", "advisor", "--agency", LYON, "--subject", "claire"
    )
    post = {"text": "Atelier CV #emploi", "networks": ["mastodon"]}
    assert http("POST", f"{relais.intake_url(LYON)}/v1/posts", post, token=token)[0] == 202

    stored = (
        sqlite3.connect(relais.data_dir / "hub.db").execute("select token_id, sha256 from tokens").fetchall()
    )
    assert stored and all(token not in str(row) for row in stored)  # kept hashed, never in clear
    [token_id] = [
        line.split()[0] for line in relais_cli(relais, "token", "list").splitlines() if "claire" in line
    ]
    relais_cli(relais, "token", "revoke", token_id)
    assert "revoked" in next(
        line for line in relais_cli(relais, "token", "list").splitlines() if "claire" in line
    )

    def refused() -> bool:
        status, body = http("POST", f"{relais.intake_url(LYON)}/v1/posts", post, token=token)
        return status == 401 and body["error"]["code"] == "revoked_token"

    eventually(refused)
    relais.links[LYON].cut()
    assert refused()  # the node remembers while the link is down
    assert http("GET", f"{relais.hub_url}/v1/agencies", token=token)[0] == 401
