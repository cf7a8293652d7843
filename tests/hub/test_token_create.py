"""`relais token create` puts every option in the token, or refuses: the real CLI as a subprocess, its
printed token decoded with the hub's public key, `relais token list` read as an operator reads it.

The expected claims and refusals come from the scope rule written down by hand (README, "Tokens"):
an advisor acts for one agency and has no region; a moderator has a region or none (national), never
an agency; admin and ops have neither; agencies and regions must be known to the registry once one
has been imported; a token lives 1 to 365 days.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jwt
import pytest

from relais.system import DEMO_CSV
from shared.tokens import load_public_key

DAY = 86400


def relais_cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_")}
    env["RELAIS_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-m", "relais.cli", *args], capture_output=True, text=True, env=env, timeout=60
    )


def decoded(data_dir: Path, token: str) -> dict[str, Any]:
    public_key = load_public_key(data_dir / "keys" / "hub-token-key.pub.pem")
    payload: dict[str, Any] = jwt.decode(token, public_key, algorithms=["EdDSA"], issuer="relais-hub")
    return payload


def issued(data_dir: Path, *options: str) -> dict[str, Any]:
    done = relais_cli(data_dir, "token", "create", *options)
    assert done.returncode == 0, done.stderr
    [token] = done.stdout.split()  # the token and nothing else
    return decoded(data_dir, token)


def recorded_tokens(data_dir: Path) -> int:
    if not (data_dir / "hub.db").exists():
        return 0
    db = sqlite3.connect(data_dir / "hub.db")
    try:
        return int(db.execute("select count(*) from tokens").fetchone()[0])
    except sqlite3.OperationalError:  # no table: nothing was ever recorded
        return 0
    finally:
        db.close()


@pytest.fixture(scope="module")
def hub_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A hub's data directory with the demo registry imported (3 agencies in 2 regions)."""
    data_dir = tmp_path_factory.mktemp("hub")
    done = relais_cli(data_dir, "pages", "import", str(DEMO_CSV))
    assert done.returncode == 0, done.stderr
    return data_dir


# (options, the scope claims the token must carry: exactly these, nothing else)
ISSUED = [
    (["--role", "moderator", "--region", "bretagne"], {"role": "moderator", "region": "bretagne"}),
    (["--role", "moderator"], {"role": "moderator"}),
    (["--role", "advisor", "--agency", "rennes-sud"], {"role": "advisor", "agency": "rennes-sud"}),
    (["--role", "admin"], {"role": "admin"}),
    (["--role", "ops"], {"role": "ops"}),
]


@pytest.mark.parametrize(("options", "scope"), ISSUED)
def test_a_token_carries_exactly_the_scope_asked_for(
    hub_dir: Path, options: list[str], scope: dict[str, str]
) -> None:
    before = time.time()
    claims = issued(hub_dir, *options)

    assert {k: claims[k] for k in claims if k in ("role", "agency", "region")} == scope
    assert set(claims) == {"iss", "sub", "iat", "exp", "jti", *scope}
    assert claims["sub"] == (
        f"{scope['role']}@{scope.get('agency') or scope['region']}"
        if "agency" in scope or "region" in scope
        else scope["role"]
    )
    assert before - 5 <= claims["exp"] - 30 * DAY <= time.time() + 5  # the default lifetime


def test_subject_and_lifetime_reach_the_token(hub_dir: Path) -> None:
    before = time.time()
    claims = issued(
        hub_dir,
        *("--role", "moderator", "--region", "auvergne-rhone-alpes"),
        *("--subject", "Claire Martin", "--ttl-days", "7"),
    )

    assert (claims["sub"], claims["region"]) == ("Claire Martin", "auvergne-rhone-alpes")
    assert before - 5 <= claims["exp"] - 7 * DAY <= time.time() + 5
    assert claims["exp"] - claims["iat"] == 7 * DAY


def test_token_list_shows_each_tokens_region_or_agency(tmp_path: Path) -> None:
    relais_cli(tmp_path, "pages", "import", str(DEMO_CSV))
    tokens = {
        "regional": issued(tmp_path, "--role", "moderator", "--region", "bretagne", "--subject", "regional"),
        "national": issued(tmp_path, "--role", "moderator", "--subject", "national"),
        "advisor": issued(tmp_path, "--role", "advisor", "--agency", "rennes-sud", "--subject", "advisor"),
        "admin": issued(tmp_path, "--role", "admin", "--subject", "admin"),
    }

    listed = relais_cli(tmp_path, "token", "list")

    assert listed.returncode == 0, listed.stderr
    lines = {line.split()[-1]: line.split() for line in listed.stdout.splitlines()}
    expected_scope = {
        "regional": "region:bretagne",
        "national": "national",
        "advisor": "agency:rennes-sud",
        "admin": "all",
    }
    for subject, claims in tokens.items():
        token_id, role, scope, *_ = lines[subject]
        assert (token_id, role, scope) == (claims["jti"], claims["role"], expected_scope[subject])
        expires = time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(claims["exp"]))
        assert f"active until {expires}" in " ".join(lines[subject])


# (options, words the refusal must contain): each breaks the scope rule above.
REFUSED = [
    (["--role", "advisor"], "needs an agency"),
    (["--role", "advisor", "--agency", "rennes-sud", "--region", "bretagne"], "give no region"),
    (["--role", "moderator", "--agency", "rennes-sud"], "never an agency"),
    (["--role", "moderator", "--region", "bretagne", "--agency", "rennes-sud"], "never an agency"),
    (["--role", "admin", "--agency", "rennes-sud"], "neither an agency nor a region"),
    (["--role", "admin", "--region", "bretagne"], "neither an agency nor a region"),
    (["--role", "ops", "--agency", "rennes-sud"], "neither an agency nor a region"),
    (["--role", "ops", "--region", "bretagne"], "neither an agency nor a region"),
    (["--role", "moderator", "--region", "normandie"], "no region 'normandie'"),
    (["--role", "advisor", "--agency", "brest-centre"], "no agency 'brest-centre'"),
    (["--role", "moderator", "--region", "Bretagne!"], "not a registry id"),
    (["--role", "advisor", "--agency", "../rennes-sud"], "not a registry id"),
    (["--role", "admin", "--ttl-days", "0"], "--ttl-days"),
    (["--role", "admin", "--ttl-days", "-3"], "--ttl-days"),
    (["--role", "admin", "--ttl-days", "366"], "--ttl-days"),
    (["--role", "admin", "--subject", ""], "--subject"),
    (["--role", "admin", "--subject", "admin\x1b[2J"], "--subject"),
    (["--role", "admin", "--subject", "x" * 129], "--subject"),
]


@pytest.mark.parametrize(("options", "why"), REFUSED)
def test_an_inconsistent_token_is_refused_and_nothing_is_issued(
    hub_dir: Path, options: list[str], why: str
) -> None:
    before = recorded_tokens(hub_dir)

    done = relais_cli(hub_dir, "token", "create", *options)

    assert done.returncode == 2
    assert done.stdout == ""
    assert why in done.stderr and "no token was issued" in done.stderr
    assert recorded_tokens(hub_dir) == before


def test_without_a_registry_a_region_is_not_checked_against_it(tmp_path: Path) -> None:
    # A hub being set up may issue tokens before importing its pages; the scope rule still holds.
    assert issued(tmp_path, "--role", "moderator", "--region", "normandie")["region"] == "normandie"
    assert relais_cli(tmp_path, "token", "create", "--role", "advisor", "--region", "x").returncode == 2


def test_an_unknown_command_is_a_usage_error(tmp_path: Path) -> None:
    done = relais_cli(tmp_path, "tokens", "create", "--role", "admin")

    assert done.returncode == 2
    assert done.stdout == "" and "usage: relais" in done.stderr


def test_a_command_waits_for_the_hubs_commit_rather_than_fail_on_a_locked_database(tmp_path: Path) -> None:
    """The hub writes hub.db while an operator runs `relais token create` beside it (a compose test
    met "database is locked" when the hub's fsyncs were slow). A write held for longer than
    sqlite3's default 5 s must only delay the command."""
    issued(tmp_path, "--role", "admin")  # the database exists, migrated
    hub = sqlite3.connect(tmp_path / "hub.db", isolation_level=None)
    try:
        hub.execute("begin immediate")  # the hub's write lock, held through a slow commit
        env = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_")}
        env["RELAIS_DATA_DIR"] = str(tmp_path)
        command = subprocess.Popen(
            [sys.executable, "-m", "relais.cli", "token", "create", "--role", "ops"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        time.sleep(6.5)
        assert command.poll() is None, command.communicate()  # still waiting, not failed
        hub.execute("commit")
        out, err = command.communicate(timeout=60)
    finally:
        hub.close()
    assert command.returncode == 0, err
    assert decoded(tmp_path, out.strip())["role"] == "ops"
    assert recorded_tokens(tmp_path) == 2
