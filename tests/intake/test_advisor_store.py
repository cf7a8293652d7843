"""The node's copy of its advisors' accounts, in process (real SQLite, real HTTP): the newest
version wins whatever order the news arrives in, a disabled account ends its sessions, and only an
advisor of this node's agency signs in here; the hub's own disable does the same for its users."""

from __future__ import annotations

import re
from pathlib import Path

from services.hub.store import open_store as open_hub_store
from services.intake.keys import DATABASE
from shared.accounts import (
    AdvisorAccount,
    advisor_accounts,
    create_user,
    disable_user,
    hash_password,
    live_session,
    open_session,
    set_password_hash,
    store_advisor,
)
from tests.intake.conftest import AGENCY, Client

PASSWORD = "correct horse battery staple"


def account(
    version: int, disabled: bool = False, agency: str = AGENCY, username: str = "claire"
) -> AdvisorAccount:
    return AdvisorAccount(username, "advisor", agency, hash_password(PASSWORD), disabled, version)


async def sign_in(client: Client, username: str) -> int:
    page = await (await client.get("/login")).text()
    token = re.search(r'name="login_token" value="([^"]+)"', page)
    assert token
    form = {"login_token": token.group(1), "username": username, "password": PASSWORD}
    return (await client.post("/login", data=form, allow_redirects=False)).status


async def test_the_newest_version_wins_and_disabling_ends_the_sessions(client: Client) -> None:
    db = client.app[DATABASE]
    assert store_advisor(db, account(1))
    assert await sign_in(client, "claire") == 303
    session = open_session(db, "claire")
    assert store_advisor(db, account(3, disabled=True))
    assert live_session(db, session.cookie, ("advisor",)) is None
    assert not store_advisor(db, account(2))  # an older news, redelivered late, changes nothing
    assert await sign_in(client, "claire") == 401
    assert (await client.get("/", allow_redirects=False)).headers["Location"] == "/login"


async def test_only_an_advisor_of_this_agency_signs_in_here(client: Client) -> None:
    db = client.app[DATABASE]
    store_advisor(db, account(1, agency="rennes-sud", username="yann"))  # as if it had leaked here
    assert await sign_in(client, "yann") == 401
    session = open_session(db, "yann")
    client.session.cookie_jar.update_cookies({"relais_agency_session": session.cookie})
    assert (await client.get("/", allow_redirects=False)).status == 303
    assert (await client.get("/v1/posts")).status == 401


def test_disabling_at_the_hub_bumps_the_version_and_closes_sessions(tmp_path: Path) -> None:
    db = open_hub_store(tmp_path / "hub.db")
    try:
        create_user(db, "claire", "advisor", None, PASSWORD, agency=AGENCY)
        create_user(db, "nadia", "moderator", None, PASSWORD)
        [created] = advisor_accounts(db)  # moderators are not replicated anywhere
        assert (
            created.version == 1 and not created.disabled and created.password_hash.startswith("$argon2id$")
        )
        set_password_hash(db, "claire", hash_password("another long password"))
        [changed] = advisor_accounts(db)  # a new hash is a new version: the node replaces its copy
        assert changed.version == 2 and changed.password_hash != created.password_hash
        sessions = [open_session(db, "claire"), open_session(db, "nadia")]
        assert disable_user(db, "claire") and disable_user(db, "nadia")
        [disabled] = advisor_accounts(db)
        assert disabled.version == 3 and disabled.disabled
        assert all(live_session(db, s.cookie, ("advisor", "moderator")) is None for s in sessions)
        assert not disable_user(db, "nobody")
    finally:
        db.close()
