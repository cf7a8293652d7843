"""Sharing a story (issue #16 item 3): `POST /v1/shares` and its live preview, at the agency's node.

An advocate (an advisor whose consent stands: `advocate_of`) shares a story offered to her agency now
(`offered_stories`), in her own words, to some of her connected personal accounts. The share is a
post of the node's durable outbox like any other (202 once on disk, sent once when the link allows),
with `share` = (story, advocate), the advocate's pseudonym as author (never the user id: the hub
learns that a share happened, not who the advisor is), her personal pages as targets and the story's
link as link. The formatter tags its links per network (`shared.advocacy.links`) and has the final
word; the node checks the text the same way first, so that the advisor hears at once.

On X no two advocates may publish near-identical texts for the same story: the node refuses at once a
text near-identical to one of the story's suggested texts (`shared.advocacy.similarity`); the hub
then checks it against every other share (services/hub/share_checks.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlite_utils
from aiohttp import web

from services.intake.advocate_lookup import Advocate, advocate_of
from services.intake.api_types import Preview, ShareIn, SharePreviewIn
from services.intake.handlers import accept, claims_for_agency, idempotency_of
from services.intake.keys import DATABASE, SETTINGS
from services.intake.stories import offered_stories
from shared.advocacy.accounts import ShareOf, personal_page
from shared.advocacy.links import tag_link, tag_links
from shared.advocacy.similarity import closest
from shared.advocacy.stories import ADVOCACY_NETWORKS, OfferedStory
from shared.api_contract import conform, typed_json
from shared.fitting_policy import FittingPolicy
from shared.http_body import read_json
from shared.ids import new_post_id, utc_now
from shared.networks.options import NetworkOptions
from shared.networks.preview import preview
from shared.post_input import InputError, check_fields, check_schedule, check_text, check_text_fits
from shared.schemas import PostReceived, Target
from shared.tokens import Claims
from shared.web import json_error

__all__ = ["NEAR_DUPLICATE_NETWORKS", "Share", "add_routes", "check_share", "tagged"]

SHARE_FIELDS = frozenset({"story", "networks", "text", "schedule_at"})
PREVIEW_FIELDS = frozenset({"story", "networks", "text"})
# X treats identical texts from many accounts as spam (issue #16): the rule is X's alone.
NEAR_DUPLICATE_NETWORKS = ("x",)
# A share is one post on each account, never a thread nor a cut text (as stories are checked:
# shared.advocacy.stories): a text too long is refused for the advisor to shorten.
SHARE_FITTING: FittingPolicy = "reject"


@dataclass(frozen=True)
class Share:
    story: OfferedStory
    networks: list[str]
    text: str
    schedule_at: str | None


def tagged(story: OfferedStory, text: str, network: str, agency: str) -> tuple[str, str]:
    """The text and the story's link as `network` carries them from `agency` (UTM parameters)."""
    tags = {"network": network, "story_id": story.id, "agency": agency}
    return tag_links(text, **tags), tag_link(story.link, **tags)


def _advocate(db: sqlite_utils.Database, claims: Claims) -> Advocate:
    advocate = advocate_of(db, claims.subject)
    if advocate is None:
        message = "only an advocate shares stories: opt in first (your consent is not recorded, or withdrawn)"
        raise InputError(403, "not_an_advocate", message, None)
    return advocate


def _networks(value: Any, advocate: Advocate) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(n, str) for n in value):
        raise InputError(400, "invalid_type", "networks must be a non-empty list of network ids", "networks")
    for index, network in enumerate(value):
        field = f"networks[{index}]"
        if network not in ADVOCACY_NETWORKS:
            known = ", ".join(ADVOCACY_NETWORKS)
            raise InputError(422, "not_an_advocacy_network", f"{network!r}: stories go to {known}", field)
        if network not in advocate.connected:
            message = f"your {network} account is not connected: connect it before sharing there"
            raise InputError(422, "network_not_connected", message, field)
    return list(dict.fromkeys(value))


def _story(value: Any, db: sqlite_utils.Database) -> OfferedStory:
    if not isinstance(value, str) or not value:
        raise InputError(400, "invalid_type", "story must be a story's id", "story")
    offered = {story.id: story for story in offered_stories(db, datetime.now(UTC))}
    if value not in offered:
        message = f"story {value!r} is not offered to this agency now (unknown, withdrawn or expired)"
        raise InputError(422, "story_not_offered", message, "story")
    return offered[value]


def check_share(body: Any, fields: frozenset[str], db: sqlite_utils.Database, advocate: Advocate) -> Share:
    """The share `body` asks for, or `InputError` naming the field at fault."""
    given = _shape(body, fields)
    networks = _networks(given.get("networks"), advocate)
    story = _story(given.get("story"), db)
    schedule_at = check_schedule(given.get("schedule_at"))
    return Share(story, networks, given["text"], schedule_at)


def _shape(body: Any, fields: frozenset[str]) -> dict[str, Any]:
    """A malformed body is a 400 before anything about the caller is looked up."""
    given = check_fields(body, fields)
    check_text(given.get("text"))
    return given


def _check_fits(share: Share, agency: str, options: NetworkOptions | None) -> None:
    """Each network's rules, on the text and link as that network carries them (the formatter's
    verdict is final; this tells the advisor at once)."""
    for network in share.networks:
        text, link = tagged(share.story, share.text, network, agency)
        try:
            check_text_fits(text, link, [network], policy=SHARE_FITTING, options=options)
        except InputError as exc:
            raise InputError(exc.status, exc.code, f"{network}: {exc.message}", exc.field) from None


def _near_suggested(share: Share) -> str | None:
    """Why, on X, the text is too close to one of the story's suggested texts, or None."""
    match = closest(share.text, share.story.texts.items(), story_hashtag=share.story.hashtag or "")
    if match is None:
        return None
    return (
        f"on X this text is near-identical ({match.score:.0%} of the same words) to the story's suggested"
        f" text in {match.share_id}; X treats the same text from many accounts as spam: write it in"
        " your own words"
    )


def _check_not_suggested(share: Share) -> None:
    """On X, a text near-identical to one of the story's suggested texts is refused at once."""
    if any(n in NEAR_DUPLICATE_NETWORKS for n in share.networks) and (said := _near_suggested(share)):
        raise InputError(422, "near_duplicate_text", said, "text")


async def _body(request: web.Request) -> Any:
    try:
        return await read_json(request)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InputError(400, "invalid_json", "the body is not valid JSON", None) from None


async def create_share(request: web.Request) -> web.Response:
    claims = claims_for_agency(request)
    settings, db = request.app[SETTINGS], request.app[DATABASE]
    try:
        body = _shape(await _body(request), SHARE_FIELDS)
        advocate = _advocate(db, claims)
        # No await between this look-up and the insert (`accept`): no other request comes between.
        idempotency, answered = idempotency_of(request, advocate.advocate, body, scope="share")
        if answered is not None:
            return answered
        share = check_share(body, SHARE_FIELDS, db, advocate)
        _check_fits(share, settings.agency, settings.network_options)
        _check_not_suggested(share)
        conform(body, ShareIn)
    except InputError as exc:
        return json_error(exc.status, exc.code, exc.message, exc.field)
    post = PostReceived(
        post_id=new_post_id(settings.agency),
        agency=settings.agency,
        occurred_at=utc_now(),
        author=advocate.advocate,  # the pseudonym: the user id never leaves the node with a share
        text=share.text,
        link=share.story.link,
        targets=[Target(n, personal_page(advocate.advocate, n)) for n in share.networks],
        schedule_at=share.schedule_at,
        policy={n: SHARE_FITTING for n in share.networks},
        share=ShareOf(story=share.story.id, advocate=advocate.advocate),
    )
    return accept(request, post, idempotency)


async def preview_share(request: web.Request) -> web.Response:
    """Each network's rendering of the share, with its links tagged as they will be sent."""
    claims = claims_for_agency(request)
    settings, db = request.app[SETTINGS], request.app[DATABASE]
    try:
        body = _shape(await _body(request), PREVIEW_FIELDS)
        advocate = _advocate(db, claims)
        share = check_share(body, PREVIEW_FIELDS, db, advocate)
        conform(body, SharePreviewIn)
    except InputError as exc:
        return json_error(exc.status, exc.code, exc.message, exc.field)
    variants = []
    for network in share.networks:
        text, link = tagged(share.story, share.text, network, settings.agency)
        shown = preview(text, [network], link=link, policy=SHARE_FITTING, options=settings.network_options)
        variants += shown["variants"]
        if network in NEAR_DUPLICATE_NETWORKS and (said := _near_suggested(share)):
            # Said as the advisor writes, as the share itself would be refused.
            variants[-1] = {
                **variants[-1],
                "fits": False,
                "errors": [*variants[-1]["errors"], {"code": "near_duplicate_text", "message": said}],
            }
    return typed_json({"variants": variants}, Preview)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/shares", create_share)
    app.router.add_post("/v1/shares/preview", preview_share)
