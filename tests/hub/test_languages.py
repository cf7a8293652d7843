"""The hub's pages in French by default, Arabic (right to left) and English, against the real hub
app (real HTTP on loopback, real SQLite): the language is the person's choice (`?lang=`, then the
cookie), never the browser's; hostile choices fall back to French; statuses, dates and errors are
shown in the page's words; every message in the code and templates is in the three catalogs.

Expected words are the product's, written down here by hand (issue #14), not read from the catalogs.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
import sqlite_utils
from aiohttp import web
from aiohttp.test_utils import TestClient

from services.hub.app import create_app
from services.hub.dashboard_html import script_strings
from services.hub.events import CHANGES
from services.hub.keys import DATABASE
from services.hub.settings import Settings
from services.hub.store import append_event, open_store
from shared import bus
from shared.accounts import create_user
from shared.i18n import LOCALES, STATUSES, words
from shared.i18n.extract import extracted, missing
from tests.accessible_page import AccessiblePage as Page
from tests.hub.dashboard_client import PASSWORD

Client = TestClient[web.Request, web.Application]
LYON = "lyon-part-dieu"
LANG_COOKIE = "relais_lang"
# Issue #14, item 2: the statuses as French readers see them.
FRENCH_STATUSES = {
    "queued": "En file d’attente",
    "waiting_for_hub": "En attente du hub",
    "awaiting_approval": "En attente de validation",
    "scheduled": "Programmée",
    "publishing": "En cours de publication",
    "published": "Publiée",
    "partially_published": "Partiellement publiée",
    "failed": "Échec",
    "rejected": "Refusée",
    "expired": "Expirée",
    "invalid": "Invalide",
    "unconfirmed": "À vérifier",
    "throttled": "Limitée par le réseau",
}
FRENCH_MONTHS = (
    "janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."
)  # fmt: skip


@pytest.fixture
async def hub(
    tmp_path: Path, aiohttp_client: Callable[[web.Application], Awaitable[Client]]
) -> AsyncIterator[tuple[Client, sqlite_utils.Database]]:
    settings = Settings(
        nats_url="nats://127.0.0.1:9",  # never dialled: create_app does not connect
        data_dir=tmp_path,
        token_key_file=tmp_path / "keys" / "hub.pem",
        host="127.0.0.1",
        port=0,
        log_format="console",
    )
    db = open_store(settings.database)
    try:
        yield await aiohttp_client(create_app(settings, db, bus.BusLink())), db
    finally:
        db.close()


async def sign_in(client: Client, username: str, role: str = "moderator") -> None:
    create_user(client.app[DATABASE], username, role, None, PASSWORD)
    page = await (await client.get("/login")).text()
    token = re.search(r'name="login_token" value="([^"]+)"', page)
    assert token, page
    form = {"login_token": token.group(1), "username": username, "password": PASSWORD}
    assert (await client.post("/login", data=form, allow_redirects=False)).status == 303


async def get(client: Client, path: str, **kwargs: object) -> tuple[aiohttp.ClientResponse, Page]:
    response = await client.get(path, allow_redirects=False, **kwargs)  # type: ignore[arg-type]
    return response, Page(await response.text())


def test_every_message_is_translated_in_french_arabic_and_english() -> None:
    wanted = extracted()
    # The extractor sees the templates, the Python code, and the keys translated by context.
    assert {(None, "Sign in"), (None, "Username"), (None, "Moderation queue"), (None, "Sign out")} <= set(
        wanted
    )
    assert {("status", key) for key in FRENCH_STATUSES} <= set(wanted)
    assert ("error", "csrf") in wanted
    for locale in LOCALES:
        assert missing(locale, wanted) == [], locale


def test_a_string_added_to_a_template_without_its_translation_is_caught(tmp_path: Path) -> None:
    templates = tmp_path / "services" / "hub" / "templates"
    templates.mkdir(parents=True)
    (templates / "new.html").write_text('<p>{{ _("A sentence nobody translated yet") }}</p>\n')
    (tmp_path / "services" / "hub" / "new.py").write_text(
        'TITLE = _("Sign in")\nOTHER = N_("Another new one")\n'
    )
    wanted = extracted(tmp_path, ["services/hub"])
    assert set(wanted) == {
        (None, "A sentence nobody translated yet"),
        (None, "Sign in"),
        (None, "Another new one"),
    }
    for locale in LOCALES:
        assert sorted(missing(locale, wanted)) == [
            (None, "A sentence nobody translated yet"),
            (None, "Another new one"),
        ]


def test_statuses_have_their_words_in_each_language() -> None:
    assert {key: words("fr").status(key) for key in FRENCH_STATUSES} == FRENCH_STATUSES
    assert set(FRENCH_STATUSES) <= set(STATUSES)
    for locale in ("ar", "en"):
        shown = {key: words(locale).status(key) for key in STATUSES}
        assert all(shown[key] and shown[key] != key for key in STATUSES), shown
    assert words("ar").status("published") == "منشورة"
    assert words("en").status("awaiting_approval") == "Awaiting approval"


async def test_the_sign_in_page_is_french_whatever_the_browser_asks(
    hub: tuple[Client, sqlite_utils.Database],
) -> None:
    client, _ = hub
    response, page = await get(client, "/login", headers={"Accept-Language": "en-GB,en;q=0.9,ar;q=0.8"})
    assert response.status == 200
    assert (page.html.get("lang"), page.html.get("dir")) == ("fr", "ltr")
    assert page.label_of("username") == "Identifiant"
    assert page.label_of("password") == "Mot de passe"
    assert page.buttons == ["Se connecter"]
    assert page.tags.count("h1") == 1 and page.tags.count("main") == 1
    assert LANG_COOKIE not in response.cookies  # nothing was chosen: nothing to remember


async def test_arabic_is_chosen_with_the_query_and_kept_by_the_cookie(
    hub: tuple[Client, sqlite_utils.Database],
) -> None:
    client, _ = hub
    response, page = await get(client, "/login?lang=ar")
    assert (page.html.get("lang"), page.html.get("dir")) == ("ar", "rtl")
    assert page.label_of("username") == "اسم المستخدم" and page.buttons == ["تسجيل الدخول"]
    cookie = response.cookies[LANG_COOKIE]
    assert cookie.value == "ar" and cookie["path"] == "/" and cookie["httponly"]
    assert cookie["samesite"] == "Lax" and int(cookie["max-age"]) >= 30 * 24 * 3600

    _, page = await get(client, "/login", headers={"Accept-Language": "fr"})  # the cookie keeps it
    assert (page.html.get("lang"), page.html.get("dir")) == ("ar", "rtl")

    response, page = await get(client, "/login?lang=en")
    assert (page.html.get("lang"), page.html.get("dir")) == ("en", "ltr")
    assert page.label_of("username") == "Username" and page.buttons == ["Sign in"]
    assert response.cookies[LANG_COOKIE].value == "en"
    _, page = await get(client, "/login?lang=fr")
    assert page.html.get("lang") == "fr" and page.buttons == ["Se connecter"]
    _, page = await get(client, "/login")
    assert page.html.get("lang") == "fr"


@pytest.mark.parametrize(
    ("query", "cookie"),
    [
        ("?lang=../../etc/passwd", None),
        ("?lang=AR", None),  # exact values only
        ("?lang=ar-MA", None),
        ("?lang=%00ar", None),
        ("?lang=" + "a" * 5000, None),
        ("?lang=", "../../etc"),
        ("", "x" * 10 * 1024),  # a 10 KB cookie
        ("", 'ar"; relais_session=forged'),
        ("?lang=<script>", "<script>"),
    ],
)
async def test_a_hostile_language_choice_falls_back_to_french(
    hub: tuple[Client, sqlite_utils.Database], query: str, cookie: str | None
) -> None:
    client, _ = hub
    headers = {"Cookie": f"{LANG_COOKIE}={cookie}"} if cookie is not None else {}
    response, page = await get(client, f"/login{query}", headers=headers)
    assert response.status == 200
    assert (page.html.get("lang"), page.html.get("dir")) == ("fr", "ltr")
    assert page.buttons == ["Se connecter"]
    assert LANG_COOKIE not in response.cookies  # only one of the three languages is ever remembered
    assert "<script>" not in await response.text()


async def queue_and_publish(db: sqlite_utils.Database, client: Client, at: str) -> None:
    """One post waiting for a moderator, one published on Mastodon, as the audit tells the hub."""
    for n, (post_id, event, network) in enumerate(
        [
            (f"{LYON}-1", "received", None),
            (f"{LYON}-1", "queued", None),
            (f"{LYON}-2", "received", None),
            (f"{LYON}-2", "approved", None),
            (f"{LYON}-2", "delivery.published", "mastodon"),
        ]
    ):
        append_event(
            db,
            source=f"test:{n}",
            occurred_at=at,
            post_id=post_id,
            agency=LYON,
            event=event,
            actor="test",
            network=network,
            page=f"{LYON}-{network}" if network else None,
        )
        client.app[CHANGES](post_id, event)
    client.app[CHANGES].flush()


async def test_the_dashboard_shows_statuses_in_words_and_paris_time(
    hub: tuple[Client, sqlite_utils.Database],
) -> None:
    client, db = hub
    at = "2026-07-14T08:05:09.000Z"  # 10:05:09 in Paris (summer time)
    await queue_and_publish(db, client, at)
    await sign_in(client, "nadia")
    response, page = await get(client, "/dashboard")
    text = await response.text()
    assert response.status == 200 and (page.html.get("lang"), page.html.get("dir")) == ("fr", "ltr")
    assert "l’heure de Paris (Europe/Paris)" in text  # the one time zone, named on screen
    for key in ("awaiting_approval", "published"):
        assert re.search(f'data-status="{key}"[^>]*>{FRENCH_STATUSES[key]}<', text), key
        assert f">{key}<" not in text
    assert page.tags.count("h1") == 1 and page.tags.count("main") == 1
    assert page.tags.count("header") == 1 and page.tags.count("nav") == 2

    # The script's words come from the page, in its language (the CSP lets no inline script run).
    strings = json.loads(page.json_blocks["strings"])
    assert strings["statuses"]["awaiting_approval"] == "En attente de validation"
    assert strings["errors"]["csrf"].startswith("Ce formulaire est périmé")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]

    response, page = await get(client, "/dashboard?lang=ar")
    text = await response.text()
    assert (page.html.get("lang"), page.html.get("dir")) == ("ar", "rtl")
    assert re.search('data-status="published"[^>]*>منشورة<', text) and "بتوقيت باريس" in text
    assert json.loads(page.json_blocks["strings"])["statuses"]["published"] == "منشورة"
    response, page = await get(client, "/dashboard/sections/posts")  # the cookie holds for the script
    assert re.search('data-status="published"[^>]*>منشورة<', await response.text())

    response, page = await get(client, "/dashboard?lang=en")
    assert re.search('data-status="awaiting_approval"[^>]*>Awaiting approval<', await response.text())
    _, page = await get(client, "/audit")  # when each event happened, by the hub's clock
    assert (at, "Jul 14 10:05:09") in page.times
    _, page = await get(client, "/audit?lang=fr")
    assert (at, "14 juil. 10:05:09") in page.times


async def test_the_live_feed_speaks_the_viewers_language(hub: tuple[Client, sqlite_utils.Database]) -> None:
    client, db = hub
    await sign_in(client, "nadia")
    await get(client, "/dashboard?lang=ar")
    async with client.get("/events") as feed:
        assert await feed.content.readline() == b"retry: 2000\n"
        await queue_and_publish(db, client, datetime.now(UTC).isoformat())
        lines = [await feed.content.readline() for _ in range(3)]
    change = json.loads(lines[2].removeprefix(b"data: "))
    assert change["post_id"] == f"{LYON}-1" and change["status_words"] == "في انتظار الموافقة"
    paris = datetime.fromisoformat(change["at"]).astimezone(ZoneInfo("Europe/Paris"))
    assert change["time"] == paris.strftime("%H:%M:%S")


async def test_pages_and_refusals_are_in_the_viewers_words(hub: tuple[Client, sqlite_utils.Database]) -> None:
    client, _ = hub
    await sign_in(client, "olga", "ops")
    for path, heading in [
        ("/audit", "Derniers événements"),
        ("/dead-letters", "Lettres mortes et pages à surveiller"),
    ]:
        response, page = await get(client, path)
        assert response.status == 200 and page.html.get("lang") == "fr", path
        assert page.tags.count("h1") == 1 and page.tags.count("main") == 1, path
        assert f"<h1>{heading}</h1>" in await response.text()
        assert "Se déconnecter" in page.buttons  # inside the signed-in layout
    _, page = await get(client, "/dashboard")
    csrf = re.search(
        r'<meta name="csrf-token" content="([^"]+)">', await (await client.get("/dashboard")).text()
    )
    assert csrf
    # An error shown to a person is translated from its code (ops may not decide).
    refused = await client.post(f"/dashboard/queue/{LYON}-1/approve", data={"csrf": csrf.group(1)})
    page = Page(await refused.text())
    assert refused.status == 403 and page.html.get("lang") == "fr"
    assert "Votre rôle ne permet pas cette action." in await refused.text()
    assert "may not do this" not in await refused.text()
    refused = await client.post(f"/dashboard/queue/{LYON}-1/approve?lang=en", data={"csrf": csrf.group(1)})
    assert "Your role may not do this." in await refused.text()
    # The script's JSON answer keeps the code (the page's words translate it) and the English message.
    answer = await client.post(
        f"/dashboard/queue/{LYON}-1/approve", data={"csrf": "wrong"}, headers={"Accept": "application/json"}
    )
    assert answer.status == 403 and (await answer.json())["error"]["code"] == "csrf"


async def test_a_wrong_password_is_told_in_the_chosen_language(
    hub: tuple[Client, sqlite_utils.Database],
) -> None:
    client, db = hub
    create_user(db, "nadia", "moderator", None, PASSWORD)
    for lang, message in [
        ("fr", "Identifiant ou mot de passe incorrect."),
        ("ar", "اسم المستخدم أو كلمة المرور غير صحيحة."),
        ("en", "Wrong username or password."),
    ]:
        page = await (await client.get(f"/login?lang={lang}")).text()
        token = re.search(r'name="login_token" value="([^"]+)"', page)
        assert token
        form = {"login_token": token.group(1), "username": "nadia", "password": "not the password"}
        response = await client.post("/login", data=form, allow_redirects=False)
        assert response.status == 401 and message in await response.text(), lang


def test_the_dashboard_script_takes_its_words_and_its_clock_from_the_hub() -> None:
    script = (
        Path(__file__).resolve().parents[2] / "services" / "hub" / "static" / "dashboard.js"
    ).read_text()
    used = set(re.findall(r"\bwords\.(\w+)", script))
    assert {"live", "connecting", "reconnecting", "signedOut", "noAnswer", "statuses", "errors"} <= used
    for locale in LOCALES:
        strings = script_strings(locale)
        assert used <= set(strings), (locale, used - set(strings))
        assert all(strings[key] for key in used), locale
    # The live feed shows the hub's time (Paris), never the browser's clock or its language.
    assert "new Date(" not in script and "toLocale" not in script
