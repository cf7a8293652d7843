"""The dispatcher as a real process: exactly once through redeliveries, unknown outcomes, kills,
rate limits, expired tokens and exhausted retries, each checked on what the sandbox received."""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter

import nats

from shared.ids import utc_now
from shared.schemas import DeliveryActionRequested, commands_subject, encode
from tests.dispatcher.conftest import FleetFactory
from tests.dispatcher.fleet import Page, make_pages
from tests.harness import eventually, http
from tests.images import png

NETWORKS = ("x", "mastodon", "bluesky", "linkedin", "facebook")


def texts_for(pages: list[Page], post: str) -> dict[str, list[str]]:
    return {p.page: [f"{post} : forum de l'emploi à Lyon pour {p.page} #emploi"] for p in pages}


def command(fleet_url: str, post_id: str, page: Page, action: str) -> None:
    message = DeliveryActionRequested(
        post_id=post_id,
        agency=page.agency,
        occurred_at=utc_now(),
        network=page.network,
        page=page.page,
        action=action,
        requested_by="admin@hub",
    )

    async def publish() -> None:
        nc = await nats.connect(fleet_url)
        try:
            await nc.jetstream().publish(
                commands_subject(page.agency, post_id, action),
                encode(message),
                headers={"Nats-Msg-Id": f"{post_id}.{page.page}.{action}.{message.occurred_at}"},
            )
        finally:
            await nc.close()

    asyncio.run(publish())


def alerts(fleet_url: str) -> list[str]:
    async def read() -> list[str]:
        nc = await nats.connect(fleet_url)
        subjects = []
        try:
            sub = await nc.jetstream().subscribe("alerts.>", ordered_consumer=True)
            while True:
                try:
                    msg = await sub.next_msg(timeout=1)
                except nats.errors.TimeoutError:
                    break
                subjects.append(msg.subject)
        finally:
            await nc.close()
        return subjects

    return asyncio.run(read())


def test_a_fan_out_reaches_every_page_once_even_when_the_approval_comes_twice(
    fleet_factory: FleetFactory,
) -> None:
    pages = make_pages(4, NETWORKS)
    fleet = fleet_factory(pages)
    texts = texts_for(pages, "Campagne 1")

    fleet.approve("nat-1", "national", pages, texts)
    rows = fleet.wait_settled(len(pages))
    fleet.approve("nat-1", "national", pages, texts, copy=1)  # redelivered past the bus's window

    assert {r["status"] for r in rows.values()} == {"published"}
    received = Counter((p["network"], p["text"]) for p in fleet.received())
    assert len(received) == len(pages) and set(received.values()) == {1}
    assert len(fleet.wait_settled(len(pages))) == len(pages)
    assert len(fleet.received()) == len(pages)


def test_a_timeout_after_creation_is_reconciled_instead_of_posted_again(fleet_factory: FleetFactory) -> None:
    pages = make_pages(1, NETWORKS)
    fleet = fleet_factory(pages)
    for page in pages:
        fleet.arm(page.network, page.handle, "timeout_after_create", seconds=4)

    fleet.approve("post-t", "agence-000", pages, texts_for(pages, "Atelier CV"))
    rows = fleet.wait_settled(len(pages))

    assert {r["status"] for r in rows.values()} == {"published"}
    assert Counter(p["network"] for p in fleet.received()) == Counter(NETWORKS)
    for row in rows.values():
        post = next(
            p
            for p in fleet.received()
            if p["remote_id"] in (row["remote_id"], row["remote_id"].split("/")[-1])
        )
        assert post is not None


def test_a_post_with_an_image_left_in_doubt_is_published_once_with_its_image(
    fleet_factory: FleetFactory,
) -> None:
    pages = make_pages(1, NETWORKS)
    fleet = fleet_factory(pages)
    for page in pages:
        fleet.arm(page.network, page.handle, "timeout_after_create", seconds=4)
    image = png(width=1080, height=1080)

    fleet.approve(
        "post-m",
        "agence-000",
        pages,
        texts_for(pages, "Forum"),
        media={"agence-000-affiche": (image, "image/png", "Affiche du forum")},
    )
    rows = fleet.wait_settled(len(pages))

    assert {r["status"] for r in rows.values()} == {"published"}
    received = fleet.received()
    assert Counter(p["network"] for p in received) == Counter(NETWORKS)
    for post in received:
        [attached] = post["media"]
        assert attached["sha256"] == hashlib.sha256(image).hexdigest(), post["network"]
        assert attached["alt"] == "Affiche du forum", post["network"]


def test_a_dispatcher_killed_during_the_call_reconciles_after_restart(fleet_factory: FleetFactory) -> None:
    pages = make_pages(1, NETWORKS)
    fleet = fleet_factory(pages)
    for page in pages:
        fleet.arm(page.network, page.handle, "slow", seconds=1.5)

    fleet.approve("post-k", "agence-000", pages, texts_for(pages, "Job dating"))
    eventually(lambda: sum(r["status"] == "publishing" for r in fleet.deliveries().values()) == len(pages))
    fleet.kill("dispatcher")  # SIGKILL, mid-call: the sandbox still creates the posts
    fleet.start("dispatcher")
    rows = fleet.wait_settled(len(pages))

    assert {r["status"] for r in rows.values()} == {"published"}
    assert Counter(p["network"] for p in fleet.received()) == Counter(NETWORKS)


def test_an_expired_token_stops_the_page_until_a_person_retries(fleet_factory: FleetFactory) -> None:
    pages = make_pages(2, ("x",))
    broken, fine = pages
    fleet = fleet_factory(pages)
    fleet.arm("x", broken.handle, "expired_token", times=0)

    fleet.approve("post-a", "agence-000", pages, texts_for(pages, "Offre A"))
    fleet.wait_settled(2)
    fleet.approve("post-b", "agence-000", pages, texts_for(pages, "Offre B"))
    rows = fleet.wait_settled(4)

    assert fleet.page_states() == {broken.page: "needs_reauth"}
    first, second = rows[f"post-a.x.{broken.page}"], rows[f"post-b.x.{broken.page}"]
    assert (first["status"], first["dead"]) == ("failed", 1) and "reconnect" in first["error"]
    assert second["status"] == "failed" and "needs to be reconnected" in second["error"]
    assert second["attempts"] == 0  # nothing was attempted on the page
    assert [p["account"] for p in fleet.received()] == [fine.handle, fine.handle]
    subjects = eventually(lambda: (found := alerts(fleet.nats_url)) and len(found) >= 3 and found)
    assert any(s.endswith(".needs_reauth") for s in subjects)
    assert sum(s.endswith(".dead_letter") for s in subjects) == 2

    http("DELETE", f"{fleet.sandbox_url}/_sandbox/faults")  # the page is reconnected
    command(fleet.nats_url, "post-a", broken, "retry")
    eventually(lambda: fleet.deliveries()[f"post-b.x.{broken.page}"]["status"] == "published")

    assert fleet.page_states() == {}
    assert Counter(p["account"] for p in fleet.received()) == {fine.handle: 2, broken.handle: 2}


def test_a_rate_limited_page_waits_for_the_reset_and_does_not_fail(fleet_factory: FleetFactory) -> None:
    pages = make_pages(3, ("mastodon",))
    fleet = fleet_factory(pages)
    fleet.arm("mastodon", pages[0].handle, "rate_limit", seconds=2)

    fleet.approve("post-r", "agence-000", pages, texts_for(pages, "Salon"))
    rows = fleet.wait_settled(3)

    assert {r["status"] for r in rows.values()} == {"published"}
    limited = rows[f"post-r.mastodon.{pages[0].page}"]
    assert limited["attempts"] == 2 and not limited["dead"]
    assert len(fleet.received()) == 3


def test_transient_errors_end_in_a_dead_letter_that_a_retry_publishes(fleet_factory: FleetFactory) -> None:
    pages = make_pages(2, ("facebook",))
    fleet = fleet_factory(pages, RELAIS_DISPATCHER_MAX_ATTEMPTS="3")
    fleet.arm("facebook", pages[0].handle, "server_error", times=0)

    fleet.approve("post-d", "agence-000", pages, texts_for(pages, "Info collective"))
    rows = fleet.wait_settled(2)

    dead = rows[f"post-d.facebook.{pages[0].page}"]
    assert (dead["status"], dead["dead"], dead["attempts"]) == ("failed", 1, 3)
    assert "gave up after 3 attempts" in dead["error"] and '"network_code": "2"' in dead["error"]
    assert [p["account"] for p in fleet.received()] == [pages[1].handle]

    http("DELETE", f"{fleet.sandbox_url}/_sandbox/faults")
    command(fleet.nats_url, "post-d", pages[0], "retry")
    eventually(lambda: fleet.deliveries()[f"post-d.facebook.{pages[0].page}"]["status"] == "published")
    assert len(fleet.received()) == 2


def test_telegram_unknown_outcomes_wait_for_a_person(fleet_factory: FleetFactory) -> None:
    pages = make_pages(1, ("telegram",))
    fleet = fleet_factory(pages)
    fleet.arm("telegram", pages[0].handle, "disconnect_after_create")

    fleet.approve("post-u", "agence-000", pages, texts_for(pages, "Permanence"))
    rows = fleet.wait_settled(1)

    row = rows[f"post-u.telegram.{pages[0].page}"]
    assert (row["status"], row["dead"], row["attempts"]) == ("unconfirmed", 1, 1)
    assert "cannot be read back" in row["error"]
    command(fleet.nats_url, "post-u", pages[0], "mark_published")
    eventually(lambda: fleet.deliveries()[f"post-u.telegram.{pages[0].page}"]["status"] == "published")
    assert len(fleet.received()) == 1
