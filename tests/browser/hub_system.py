"""A whole Relais system (real processes on loopback) whose hub has something on every page: a post
waiting for a moderator, a published one, audit events, a dead letter, a page to reconnect, a
throttled page, and inbox conversations (one late, one with a masked phone number). Shared by the
tests of one module, which only read it and sign in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.sync_api import Page, expect

from services.hub import dead_letters, engagement
from services.hub.inbox_store import ClockPlan, record_item
from services.hub.store import open_store
from shared.business_hours import DEFAULT_CALENDARS, deadline
from shared.ids import utc_now
from shared.schemas import (
    DeliveryDeadLettered,
    EngagementMeasured,
    ErrorReport,
    InboxItemReceived,
    PageNeedsReauth,
    PageThrottled,
    alerts_subject,
    conversation_key,
    encode,
    engagement_subject,
)
from shared.tokens import issue_token
from tests.harness import RelaisSystem, eventually, http
from tests.hub.dashboard_client import PASSWORD, create_user

ADMIN = "alain"  # an admin sees every control the dashboard has (retries included)
MODERATOR = "nadia"
QUEUED_TEXT = "Offre : préparateur de commandes H/F à Lyon #emploi"
PUBLISHED_TEXT = "Offre : cariste H/F à Lyon Part-Dieu #emploi"
ERROR_MESSAGE = "X refused the page's token: reconnect the page"  # the network's words, not the hub's
INBOX_TEXTS = ("Bonjour, mon dossier est-il complet ? Mon numéro : ⟦phone⟧", "Quels sont vos horaires ?")


@dataclass
class FilledHub:
    relais: RelaisSystem
    published: str  # the published post's id: the audit page lists its events
    conversation: str  # an inbox conversation whose item had a phone number masked

    @property
    def url(self) -> str:
        return self.relais.hub_url


def fill_hub(relais: RelaisSystem) -> str:
    """Put something on every page; return the published post's id."""
    status, body = http(
        "PUT",
        f"{relais.hub_url}/v1/policies",
        {"scope": "default", "mode": "moderated"},
        token=relais.token("admin"),
    )
    assert status == 200, body
    moderator = issue_token(relais.key, role="moderator", subject="moderation-api")
    ids: list[str] = []
    for text in (PUBLISHED_TEXT, QUEUED_TEXT):
        status, accepted = relais.post({"text": text, "networks": ["mastodon"]})
        assert status == 202, accepted
        ids.append(accepted["id"])
    published = ids[0]

    def approved() -> bool:
        status, _ = http("POST", f"{relais.hub_url}/v1/moderation/{published}/approve", {}, token=moderator)
        return status == 200

    eventually(approved, timeout=30)
    relais.wait_status(published, ("published",))
    agency = relais.agencies[0]
    error = ErrorReport(message=ERROR_MESSAGE, network_code="401")
    common = {
        "post_id": published,
        "agency": agency,
        "occurred_at": utc_now(),
        "network": "x",
        "page": f"{agency}-x",
    }
    db = open_store(relais.data_dir / "hub.db")
    try:
        for kind, alert in (
            ("needs_reauth", PageNeedsReauth(**common, error=error)),
            ("throttled", PageThrottled(**common, since=utc_now(), until=utc_now(), error=error)),
            ("dead_letter", DeliveryDeadLettered(**common, status="failed", attempts=5, error=error)),
        ):
            dead_letters.record(db, alerts_subject(agency, published, kind), encode(alert))
        # The published delivery's figures an hour on, as the dispatcher would read them back then
        # (Mastodon gives no views): the figures page's charts and the post's drill-down show them.
        page = f"{agency}-mastodon"
        figures = EngagementMeasured(
            post_id=published,
            agency=agency,
            occurred_at=utc_now(),
            network="mastodon",
            page=page,
            remote_id="1",
            age="1h",
            measured_at=utc_now(),
            likes=4,
            shares=2,
            replies=1,
        )
        assert engagement.record(db, engagement_subject(agency, published, "1h"), encode(figures))
    finally:
        db.close()
    for username, role in ((ADMIN, "admin"), (MODERATOR, "moderator")):
        created = create_user(relais.data_dir, username, role)
        assert created.returncode == 0, created.stderr
    return published


def fill_inbox(relais: RelaisSystem) -> str:
    """Two questions on the first agency's page, as the hub's inbox consumer stores them: one asked
    a week ago (late), one just now; returns the first's conversation (its phone number masked)."""
    agency = relais.agencies[0]
    calendar = DEFAULT_CALENDARS.get("fr-metropole")
    now = datetime.now(UTC)
    conversations = []
    db = open_store(relais.data_dir / "hub.db")
    try:
        for n, (text, asked) in enumerate(zip(INBOX_TEXTS, (now - timedelta(days=7), now), strict=True)):
            item_id = f"10900000000000010{n}"
            item = InboxItemReceived(
                post_id="",
                agency=agency,
                occurred_at=utc_now(),
                network="mastodon",
                page=f"{agency}-mastodon",
                item_id=item_id,
                conversation=conversation_key("mastodon", item_id),
                root_id=item_id,
                kind="comment",
                text=text,
                masked=["phone"] if "⟦phone⟧" in text else [],
                created_at=asked.isoformat(),
                via="poll",
            )

            def plan(start: datetime) -> ClockPlan:
                return ClockPlan(deadline(calendar, start, timedelta(hours=4)), [])

            record_item(db, item, asked, calendar.id, plan, region="")
            conversations.append(item.conversation)
    finally:
        db.close()
    return conversations[0]


def start_filled_hub(root: Path) -> FilledHub:
    relais = RelaisSystem(root)
    relais.start()
    try:
        return FilledHub(relais, fill_hub(relais), fill_inbox(relais))
    except BaseException:
        relais.stop()
        raise


def sign_in(page: Page, hub_url: str, username: str = ADMIN) -> None:
    """Sign in through the form, by the fields' own names (not their labels, which are translated)."""
    page.goto(f"{hub_url}/login")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form[action='/login'] [type=submit]").click()
    expect(page).to_have_url(f"{hub_url}/dashboard")
