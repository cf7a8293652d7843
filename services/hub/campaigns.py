"""National and regional campaigns, written at the hub: one post, many pages chosen by selector.

The hub is beside the central NATS, so a campaign is durable once JetStream has acknowledged it
(stored with `sync_interval: always`): only then does the API answer 202. With an
`Idempotency-Key`, a resend, however late, answers the first campaign's id and publishes nothing
more (services/hub/request_keys.py): a campaign sent twice would be a second post on every page.
"""

from __future__ import annotations

import json

import nats.errors
import structlog
from aiohttp import web

from services.hub.keys import DATABASE, LINK, NETWORK_OPTIONS, PUBLIC_KEY
from services.hub.request_keys import keyed, publish
from services.hub.scope import HUB_AGENCY, selector_outside_region
from shared.access import note_refusal
from shared.api_contract import conform
from shared.http_body import read_json
from shared.idempotency import IDEMPOTENCY_KEY, INVALID_KEY, valid_key
from shared.ids import new_post_id, utc_now
from shared.post_api import CampaignRequest
from shared.post_input import (
    InputError,
    check_content_warning,
    check_fields,
    check_link,
    check_networks,
    check_policy,
    check_schedule,
    check_selectors,
    check_text,
    check_text_fits,
)
from shared.schemas import PostReceived
from shared.web import bearer_claims, json_error

log = structlog.get_logger("relais.hub")

CAMPAIGN_FIELDS = frozenset(
    {"text", "link", "networks", "selectors", "schedule_at", "policy", "content_warning"}
)


async def create_campaign(request: web.Request) -> web.Response:
    claims = bearer_claims(request, request.app[PUBLIC_KEY], ("admin", "moderator"))
    key = request.headers.get(IDEMPOTENCY_KEY)
    if key is not None and not valid_key(key):
        return json_error(400, "invalid_idempotency_key", INVALID_KEY, IDEMPOTENCY_KEY)
    try:
        body = await read_json(request)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return json_error(400, "invalid_json", "the body is not valid JSON", None)
    try:
        fields = check_fields(body, CAMPAIGN_FIELDS)
        text = check_text(fields.get("text"))
        link = check_link(fields.get("link"))
        networks = check_networks(fields.get("networks"))
        selectors = check_selectors(fields.get("selectors"))
        outside = selector_outside_region(request, claims, selectors)
        if outside is not None:
            reason = f"{selectors[outside]!r} reaches beyond region {claims.region}"
            note_refusal(request, reason, claims=claims)
            raise InputError(403, "selector_outside_region", reason, f"selectors[{outside}]")
        schedule_at = check_schedule(fields.get("schedule_at"))
        policy = check_policy(fields.get("policy"), networks)
        content_warning = check_content_warning(fields.get("content_warning"))
        options = request.app[NETWORK_OPTIONS]
        check_text_fits(text, link, networks, policy=policy, content_warning=content_warning, options=options)
        conform(body, CampaignRequest)
    except InputError as exc:
        return json_error(exc.status, exc.code, exc.message, exc.field)
    link_ = request.app[LINK]
    if link_.nc is None or not link_.connected:
        return json_error(503, "bus_unavailable", "the hub's bus is not reachable; nothing was stored", None)
    post = PostReceived(
        post_id=new_post_id(HUB_AGENCY),
        agency=HUB_AGENCY,
        occurred_at=utc_now(),
        author=claims.subject,
        text=text,
        selectors=selectors,
        networks=networks,
        policy=policy,
        content_warning=content_warning,
        link=link,
        schedule_at=schedule_at,
    )
    db = request.app[DATABASE]
    campaign = keyed(db, post, key, "campaign", body)
    if (settled := campaign.settled()) is not None:
        return settled
    try:
        await publish(link_.nc.jetstream(), db, campaign)
    except (nats.errors.Error, TimeoutError) as exc:
        log.error("post.unsent", post_id=campaign.post.post_id, agency=HUB_AGENCY, error=repr(exc))
        return json_error(503, "bus_unavailable", "the hub's bus did not take the campaign; try again", None)
    if campaign.first is None:
        log.info(
            "post.accepted",
            post_id=post.post_id,
            agency=HUB_AGENCY,
            selectors=selectors,
            author=claims.subject,
        )
    return campaign.answer()
