"""A whole Relais as an operator starts it (`relais run` and its supervisor: tests/relais_run.py), for
the composer's browser tests: the demo registry's three agencies, hub, formatter, dispatcher and the
sandbox networks, with people made by the real `relais users` CLI:

- `claire`, advisor at Lyon Part-Dieu, whose posts go out at once (RelaisRun.token() is hers too);
- `malik`, advisor at Grenoble Europole, whose agency's posts wait for a moderator;
- `sylvie`, moderator of Auvergne-Rhône-Alpes only (the region of both agencies).

One system serves a module's tests, which run in order; the one that cuts the hub link (`relais ctl
stop nats`) starts it again before it ends, whatever happened.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po
from playwright.sync_api import Page, expect

from relais.system import DEMO_CSV, agencies_in
from shared.i18n import catalog_path, words
from shared.tokens import issue_token, load_or_create_private_key
from tests.harness import eventually, http
from tests.hub.dashboard_client import PASSWORD, create_user
from tests.relais_run import RelaisRun

LYON, GRENOBLE = "lyon-part-dieu", "grenoble-europole"
REGION = "auvergne-rhone-alpes"
ADVISOR = "claire"  # the subject of RelaisRun.token(): posts made with it are hers
REVIEWED_ADVISOR = "malik"
REGIONAL_MODERATOR = "sylvie"
I18N = Path(__file__).resolve().parents[2] / "shared" / "i18n"


@dataclass
class AgencySystem:
    run: RelaisRun

    @property
    def hub(self) -> str:
        return self.run.hub

    @property
    def sandbox(self) -> str:
        return f"http://127.0.0.1:{self.run.port('RELAIS_SANDBOX_PORT')}"

    def node(self, agency: str = LYON) -> str:
        """The agency's node (its intake): the demo registry's order, ports by steps of 10."""
        index = agencies_in(DEMO_CSV).index(agency)
        return f"http://127.0.0.1:{self.run.port('RELAIS_INTAKE_PORT') + 10 * index}"

    def admin_token(self) -> str:
        key = load_or_create_private_key(self.run.data_dir / "keys" / "hub-token-key.pem")
        return issue_token(key, role="admin", subject="composer-tests")

    def moderate(self, agency: str) -> None:
        """Every post of `agency` waits for a moderator from now on."""
        status, body = http(
            "PUT",
            f"{self.hub}/v1/policies",
            {"scope": f"agency:{agency}", "mode": "moderated"},
            token=self.admin_token(),
        )
        assert status == 200, body

    def node_accounts(self, agency: str) -> set[str]:
        """The usernames the agency's node can sign in (copied from the hub by its follower)."""
        path = self.run.data_dir / f"intake-{agency}.db"
        if not path.exists():
            return set()
        with sqlite3.connect(path, timeout=10) as db:
            try:
                return {row[0] for row in db.execute("select username from users")}
            except sqlite3.OperationalError:  # the table is made at the node's first account
                return set()

    @contextmanager
    def hub_link_cut(self) -> Iterator[None]:
        """`relais ctl stop nats` for the block (every agency works alone), then `start` again."""
        done = self.run.ctl("stop", "nats")
        assert done.returncode == 0, done.stderr
        try:
            yield
        finally:
            done = self.run.ctl("start", "nats")
            assert done.returncode == 0, done.stderr


def start_agency_system(root: Path) -> AgencySystem:
    run = RelaisRun.start(root)
    try:
        system = AgencySystem(run)
        for username, role, scope in (
            (ADVISOR, "advisor", {"agency": LYON}),
            (REVIEWED_ADVISOR, "advisor", {"agency": GRENOBLE}),
            (REGIONAL_MODERATOR, "moderator", {"region": REGION}),
        ):
            created = create_user(run.data_dir, username, role, **scope)
            assert created.returncode == 0, created.stderr
        system.moderate(GRENOBLE)
        eventually(lambda: ADVISOR in system.node_accounts(LYON), timeout=30, interval=0.3)
        eventually(lambda: REVIEWED_ADVISOR in system.node_accounts(GRENOBLE), timeout=30, interval=0.3)
        eventually(lambda: http("GET", f"{system.node(GRENOBLE)}/readyz")[0] == 200, timeout=30)
        return system
    except BaseException:
        run.stop()
        raise


@cache
def _french_msgids() -> dict[str, str]:
    """Each French word of the catalog → its English msgid (contextless entries only)."""
    with (I18N / catalog_path("fr")).open("rb") as handle:
        catalog = read_po(handle, locale="fr")
    return {str(m.string): str(m.id) for m in catalog if m.id and m.string and not m.context}


def named(french: str, lang: str) -> str:
    """The accessible name a control fixed in French (« Texte », « Publier ») has in `lang`: the
    catalog's translation of the same key. A French name no key gives fails here, saying so."""
    if lang == "fr":
        return french
    msgid = _french_msgids().get(french)
    assert msgid is not None, f"no message of the French catalog reads « {french} »"
    return words(lang).gettext(msgid)


def sign_in(page: Page, node: str, username: str, lang: str = "fr") -> None:
    """Sign in at the node's form by its labels (« Identifiant », « Mot de passe », « Se
    connecter » in French), then land on the composer."""
    page.goto(f"{node}/login?lang={lang}")
    page.get_by_label(named("Identifiant", lang), exact=True).fill(username)
    page.get_by_label(named("Mot de passe", lang), exact=True).fill(PASSWORD)
    page.get_by_role("button", name=named("Se connecter", lang), exact=True).click()
    expect(page).to_have_url(f"{node}/", timeout=15_000)  # argon2 on a busy machine
