"""The hub's inbox page (`GET /inbox`, `GET /inbox/{conversation}`) against the real hub app: its
INBOX consumer reading a real nats-server, a real hub.db, real HTTP on loopback, sessions of the
dashboard. The clock is the inbox's (`Desk.set_time`), so hours of business time pass at once.

The policy, written by hand (issue #15 items 2, 5 and 6; README « The inbox at the hub »):

- the page lists what the API lists, by the same scope rule: a regional moderator her region's
  conversations only, whatever the query asks; one conversation of another region is answered as
  one that does not exist (404, the same page), and the refusal is audited (`permission.denied`,
  status 404); an advisor (token or session) does not open the page;
- the most urgent first: the running clocks by deadline, answered conversations last;
- each row says, in the viewer's words: agency, page, network, status (« Nouveau », « En attente »,
  « Répondu »), who holds it (the advisor, or the agency's shared queue), the deadline in the
  calendar's zone with that zone named, the business time left or « en retard de … » (words, not a
  colour alone), the escalation level in words, and the last item's text masked;
- a citizen's text is text: markup in it is shown, never run;
- one conversation's items come oldest first, masked, under a notice prompting the agent to move to a
  private channel when identifiers were masked.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from services.hub.inbox_store import record_response
from services.hub.store import events_named
from shared.accounts import create_user, open_session
from shared.tokens import issue_token, load_or_create_private_key
from tests.accessible_page import AccessiblePage, Table
from tests.hub.dashboard_client import PASSWORD
from tests.hub.hub_app import Hub
from tests.hub.inbox_desk import LYON, RENNES, SAINT_DENIS, Desk, assignment, inbox_desk, question

PARIS = ZoneInfo("Europe/Paris")
REUNION = ZoneInfo("Indian/Reunion")
MONDAY = datetime(2026, 12, 7, 9, tzinfo=PARIS)  # Monday 7 December 2026, 09:00 in Paris
NOW = MONDAY + timedelta(hours=2)  # when the filled inbox is looked at
PHONE = "06 12 34 56 78"
MARKUP = '<script>alert("x")</script><img src=x onerror=alert(1)>'
QUEUE = "la file partagée de l’agence"  # who holds a conversation no advisor took
PRIVATE_NOTICE = "Des données personnelles ont été masquées : proposez de poursuivre en message privé."
HEADERS = [
    "agence",
    "page",
    "réseau",
    "état",
    "pris en charge par",
    "échéance",
    "temps restant",
    "escalade",
    "dernier message",
]


async def viewer(hub: Hub, username: str, role: str, region: str | None = None) -> dict[str, str]:
    """A person signed in at the hub (her session's cookie), as the sign-in form opens it."""
    agency = LYON if role == "advisor" else None
    create_user(hub.db, username, role, region, PASSWORD, agency=agency)
    return {"Cookie": f"relais_session={open_session(hub.db, username).cookie}"}


async def fetch(hub: Hub, path: str, headers: dict[str, str]) -> tuple[int, str]:
    response = await hub.client.get(path, headers=headers, allow_redirects=False)
    return response.status, await response.text()


def conversations_table(html: str) -> Table:
    page = AccessiblePage(html)
    [table] = page.tables
    return table


async def a_filled_inbox(desk: Desk) -> dict[str, str]:
    """Four conversations (their ids by name), the inbox's clock at Monday 11:00 in Paris (`NOW`):

    - `reunion`: Saint-Denis's page, asked at 08:00 there, before opening: its clock starts at 09:00
      in Réunion's zone and is due at 13:00+04:00 (10:00 in Paris): an hour late at 14:00 there;
    - `lyon`: asked at 09:00 in Paris with a phone number in it, due at 13:00+01:00: 2 h left;
    - `rennes`: asked at 10:00, due at 14:00, given to advisor yann: 3 h left;
    - `answered`: a Lyon question a response has answered.
    """
    reunion = question(f"{SAINT_DENIS}-mastodon", "801", datetime(2026, 12, 7, 8, tzinfo=REUNION))
    lyon = question(f"{LYON}-mastodon", "802", MONDAY, f"Rappelez-moi au {PHONE} svp")
    rennes = question(f"{RENNES}-mastodon", "803", MONDAY + timedelta(hours=1), "Mon dossier ?")
    answered = question(f"{LYON}-mastodon", "804", MONDAY - timedelta(days=3), "Merci !")
    for item in (reunion, lyon, rennes, answered):
        await desk.publish(item)
    await desk.stored("inbox_conversations", 4)
    await desk.assign(assignment(rennes, "yann", MONDAY + timedelta(hours=1, minutes=5)))
    await desk.stored("inbox_conversations", 1, "status = 'pending'")
    record_response(desk.hub.db, answered.conversation, MONDAY - timedelta(days=3) + timedelta(hours=1))
    await desk.inbox.escalate_due()
    return {
        "reunion": reunion.conversation,
        "lyon": lyon.conversation,
        "rennes": rennes.conversation,
        "answered": answered.conversation,
    }


async def test_the_list_says_each_conversations_state_in_words_the_most_urgent_first(live_hub: Hub) -> None:
    async with inbox_desk(live_hub, NOW) as desk:
        ids = await a_filled_inbox(desk)
        status, html = await fetch(live_hub, "/inbox", await viewer(live_hub, "nadia", "moderator"))
    assert status == 200
    table = conversations_table(html)
    assert table.caption == "4 conversations, les plus urgentes en premier"
    [head, *rows] = table.rows
    assert [(c.tag, c.scope, c.text) for c in head] == [("th", "col", h) for h in HEADERS]
    assert all((row[0].tag, row[0].scope) == ("th", "row") for row in rows)  # the agency names the row
    texts = [[cell.text for cell in row] for row in rows]
    assert [row[:5] for row in texts] == [
        # The agency, then its region (the registry's name for it; here the registry has ids only).
        [f"{SAINT_DENIS} la-reunion", f"{SAINT_DENIS}-mastodon", "mastodon", "Nouveau", QUEUE],
        [f"{LYON} auvergne-rhone-alpes", f"{LYON}-mastodon", "mastodon", "Nouveau", QUEUE],
        [f"{RENNES} bretagne", f"{RENNES}-mastodon", "mastodon", "En attente", "yann"],
        [f"{LYON} auvergne-rhone-alpes", f"{LYON}-mastodon", "mastodon", "Répondu", QUEUE],
    ]
    # The deadline in the calendar's zone, the zone named; the time left in business hours, in words.
    assert [row[5:8] for row in texts] == [
        ["7 déc. 13:00:00 (Indian/Reunion)", "⚠ en retard de 1 h en heures ouvrées", "Équipe du hub"],
        ["7 déc. 13:00:00 (Europe/Paris)", "reste 2 h en heures ouvrées", "Modération régionale"],
        ["7 déc. 14:00:00 (Europe/Paris)", "reste 3 h en heures ouvrées", "Aucune"],
        ["aucune réponse attendue", "—", "Aucune"],
    ]
    page = AccessiblePage(html)
    assert ("2026-12-07T13:00:00+04:00", "7 déc. 13:00:00") in page.times
    assert ("2026-12-07T13:00:00+01:00", "7 déc. 13:00:00") in page.times
    # The last message, masked, links to its conversation.
    assert PHONE not in html
    assert texts[1][8].startswith("Rappelez-moi au [numéro de téléphone — donnée masquée] svp")
    assert [u for u in page.urls if u.startswith("/inbox/")] == [f"/inbox/{ids[n]}" for n in ids]
    assert "/inbox" in page.urls  # the hub's navigation leads here


async def test_filters_cut_the_list_and_a_regional_moderator_keeps_to_her_region(live_hub: Hub) -> None:
    async with inbox_desk(live_hub, NOW) as desk:
        ids = await a_filled_inbox(desk)
        national = await viewer(live_hub, "nadia", "moderator")
        bretagne = await viewer(live_hub, "morgane", "moderator", region="bretagne")

        async def listed(path: str, who: dict[str, str]) -> list[str]:
            status, html = await fetch(live_hub, path, who)
            assert status == 200, path
            page = AccessiblePage(html)
            return [u.removeprefix("/inbox/") for u in page.urls if u.startswith("/inbox/")]

        assert await listed("/inbox?status=pending", national) == [ids["rennes"]]
        assert await listed("/inbox?status=answered", national) == [ids["answered"]]
        assert await listed("/inbox?escalation=hub", national) == [ids["reunion"]]
        assert await listed("/inbox?escalation=none", national) == [ids["rennes"], ids["answered"]]
        assert await listed("/inbox?region=la-reunion", national) == [ids["reunion"]]
        assert await listed("/inbox?network=mastodon&status=new", national) == [ids["reunion"], ids["lyon"]]
        # A filter value the page does not offer filters nothing (it is not an error to tell about).
        assert await listed("/inbox?status=<b>&network=nowhere", national) == list(ids.values())
        assert await listed("/inbox?network=x", national) == list(ids.values())
        # Her region's conversations only, whatever the query asks.
        assert await listed("/inbox", bretagne) == [ids["rennes"]]
        assert await listed("/inbox?region=la-reunion", bretagne) == [ids["rennes"]]
        assert await listed("/inbox?region=auvergne-rhone-alpes&status=new", bretagne) == []

        # Each filter is a labelled control of a plain GET form (keyboard and screen reader alike).
        page = AccessiblePage((await fetch(live_hub, "/inbox", national))[1])
        assert {page.labels[c] for c in ("f-status", "f-network", "f-escalation", "f-region")} == {
            "Statut",
            "Réseau",
            "Escalade",
            "Région",
        }
        assert "Filtrer" in page.buttons
        regional = AccessiblePage((await fetch(live_hub, "/inbox", bretagne))[1])
        assert "f-region" not in regional.controls  # nothing to choose: hers is the only one


async def test_another_regions_conversation_is_as_absent_as_a_missing_one_and_audited(live_hub: Hub) -> None:
    async with inbox_desk(live_hub, NOW) as desk:
        ids = await a_filled_inbox(desk)
        bretagne = await viewer(live_hub, "morgane", "moderator", region="bretagne")
        missing = await fetch(live_hub, "/inbox/mastodon-000000000000000000000000", bretagne)
        outside = await fetch(live_hub, f"/inbox/{ids['lyon']}", bretagne)
        own = await fetch(live_hub, f"/inbox/{ids['rennes']}", bretagne)
    assert outside == missing
    assert outside[0] == 404
    assert own[0] == 200
    [refusal] = [e for e in events_named(live_hub.db, "permission.denied") if e["agency"] == LYON]
    assert (refusal["actor"], refusal["detail"]["status"], refusal["detail"]["path"]) == (
        "morgane",
        404,
        f"/inbox/{ids['lyon']}",
    )
    assert not [e for e in events_named(live_hub.db, "permission.denied") if e["agency"] == RENNES]


async def test_an_advisors_token_or_session_does_not_open_the_inbox(live_hub: Hub) -> None:
    async with inbox_desk(live_hub, NOW) as desk:
        ids = await a_filled_inbox(desk)
        key = load_or_create_private_key(live_hub.settings.token_key_file)
        token = issue_token(key, role="advisor", subject="claire", agency=LYON)
        # A session the hub would never open for an advisor (she signs in at her node): still refused.
        session = await viewer(live_hub, "claire", "advisor")
        for path in ("/inbox", f"/inbox/{ids['lyon']}"):
            for headers in ({"Authorization": f"Bearer {token}"}, session, {}):
                status, body = await fetch(live_hub, path, headers)
                assert (status, PHONE in body, "Rappelez" in body) == (303, False, False), (path, headers)
                status, _ = await fetch(live_hub, path, {**headers, "Accept": "application/json"})
                assert status == 401, (path, headers)


async def test_a_citizens_markup_is_shown_as_text_never_run(live_hub: Hub) -> None:
    """The citizen's text, and what an agency node says (the advisor holding it), are outside text."""
    async with inbox_desk(live_hub, MONDAY) as desk:
        item = question(f"{LYON}-mastodon", "901", MONDAY, f"Bonjour {MARKUP}")
        await desk.publish(item)
        await desk.stored("inbox_conversations", 1)
        await desk.assign(assignment(item, "<i>yann</i>", MONDAY))
        await desk.stored("inbox_conversations", 1, "status = 'pending'")
        who = await viewer(live_hub, "nadia", "moderator")
        pages = [await fetch(live_hub, path, who) for path in ("/inbox", f"/inbox/{item.conversation}")]
    # The conversation page's own scripts (the reply form's words as JSON data, and reply.js) are
    # its only ones.
    own_scripts = [
        '<script type="application/json" id="reply-strings">',
        '<script src="/static/reply.js" defer>',
    ]
    for (status, html), scripts in zip(pages, ([], own_scripts), strict=True):
        assert status == 200
        page = AccessiblePage(html)
        assert not {"img", "i"} & set(page.tags)
        assert html.count("<script") == len(scripts) and all(script in html for script in scripts)
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in html
        assert "&lt;i&gt;yann&lt;/i&gt;" in html
    assert f"Bonjour {MARKUP}" in [row[-1] for row in conversations_table(pages[0][1]).texts()][1]


async def test_one_conversation_oldest_first_masked_with_the_private_channel_notice(live_hub: Hub) -> None:
    async with inbox_desk(live_hub, NOW) as desk:  # after the three were asked
        first = question(f"{LYON}-mastodon", "950", MONDAY, "Bonjour, j’ai une question")
        later = question(
            f"{LYON}-mastodon",
            "952",
            MONDAY + timedelta(minutes=20),
            "Écrivez-moi à jean.dupont@example.fr",
            root_id="950",
            parent_id="950",
        )
        middle = question(
            f"{LYON}-mastodon",
            "951",
            MONDAY + timedelta(minutes=10),
            f"Mon numéro : {PHONE}",
            root_id="950",
            parent_id="950",
        )
        for item in (first, later, middle):  # the middle one arrives last
            await desk.publish(item)
        await desk.stored("inbox_items", 3)
        who = await viewer(live_hub, "nadia", "moderator")
        status, html = await fetch(live_hub, f"/inbox/{first.conversation}", who)
    assert status == 200
    assert PHONE not in html and "jean.dupont" not in html
    assert PRIVATE_NOTICE in html
    assert "Masqué dans cette conversation : numéro de téléphone et adresse e-mail." in html
    order = [m.group(1) for m in re.finditer(r'data-item-id="([^"]+)"', html)]
    assert order == ["950", "951", "952"]
    assert "Mon numéro : [numéro de téléphone — donnée masquée]" in html
    assert "Écrivez-moi à [adresse e-mail — donnée masquée]" in html


async def test_a_conversation_without_identifiers_has_no_private_channel_notice(live_hub: Hub) -> None:
    async with inbox_desk(live_hub, MONDAY) as desk:
        item = question(f"{LYON}-mastodon", "960", MONDAY, "Quels sont vos horaires ?")
        await desk.publish(item)
        await desk.stored("inbox_items", 1)
        status, html = await fetch(
            live_hub, f"/inbox/{item.conversation}", await viewer(live_hub, "nadia", "moderator")
        )
    assert status == 200 and PRIVATE_NOTICE not in html and "Quels sont vos horaires ?" in html


async def test_arabic_reads_right_to_left_and_english_in_its_words(live_hub: Hub) -> None:
    async with inbox_desk(live_hub, NOW) as desk:
        ids = await a_filled_inbox(desk)
        who = await viewer(live_hub, "nadia", "moderator")
        arabic = await fetch(live_hub, "/inbox?lang=ar", who)
        english = await fetch(live_hub, "/inbox?lang=en", who)
        one = await fetch(live_hub, f"/inbox/{ids['lyon']}?lang=ar", who)
    page = AccessiblePage(arabic[1])
    assert (page.html["lang"], page.html["dir"]) == ("ar", "rtl")
    rows: list[Any] = conversations_table(arabic[1]).texts()[1:]
    assert [row[3] for row in rows] == ["جديدة", "جديدة", "قيد المعالجة", "تمّ الرد"]
    assert rows[0][6] == "⚠ متأخر بـ 1 س من ساعات العمل"
    assert [row[7] for row in rows[:2]] == ["فريق المركز", "الإشراف الجهوي"]
    rows = conversations_table(english[1]).texts()[1:]
    assert [row[3] for row in rows] == ["New", "New", "Pending", "Answered"]
    assert [row[5:8] for row in rows[:2]] == [
        ["Dec 7 13:00:00 (Indian/Reunion)", "⚠ overdue by 1 hr in business hours", "Hub team"],
        ["Dec 7 13:00:00 (Europe/Paris)", "2 hr left in business hours", "Regional moderators"],
    ]
    assert one[0] == 200 and "أُخفيت بيانات شخصية: اقترح مواصلة المحادثة في رسالة خاصة." in one[1]


async def test_an_item_masked_at_the_hub_says_what_was_masked(live_hub: Hub) -> None:
    """A publisher that forgot to mask: the hub masks the text, and its record of the item (what the
    API and every view read) names what it masked, as a publisher that masked would have."""
    async with inbox_desk(live_hub, NOW) as desk:
        item = question(f"{LYON}-mastodon", "970", MONDAY, f"Appelez le {PHONE} ou jean@example.fr")
        assert item.masked == []  # as published, unmasked
        await desk.publish(item)
        await desk.stored("inbox_items", 1)
    key = load_or_create_private_key(live_hub.settings.token_key_file)
    token = issue_token(key, role="admin", subject="alain")
    response = await live_hub.client.get(
        f"/v1/inbox/{item.conversation}", headers={"Authorization": f"Bearer {token}"}
    )
    [stored] = (await response.json())["items"]
    assert (stored["text"], stored["masked"]) == ("Appelez le ⟦phone⟧ ou ⟦email⟧", ["phone", "email"])
