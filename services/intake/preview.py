"""`POST /v1/preview`: how a post would look on each network, computed at the agency, even offline.

The body is a post's (text, networks, link, policy, content warning, media); nothing is stored.
The answer is `shared.networks.preview.preview`'s JSON, the very one `relais preview --json`
prints. A problem the rules find (too long with `reject`, missing alt text, too many images)
is shown in that network's `errors`; only a malformed request or an unknown media id is a 4xx.
"""

from __future__ import annotations

import json

from aiohttp import web

from services.intake.api_types import Preview
from services.intake.handlers import claims_for_agency
from services.intake.keys import DATABASE, SETTINGS
from services.intake.store import find_media
from services.intake.validation import attach_media, media_items
from shared.api_contract import conform, typed_json
from shared.http_body import read_json
from shared.networks.preview import preview
from shared.post_api import PreviewRequest
from shared.post_input import InputError, check_preview
from shared.web import json_error

__all__ = ["preview_post"]


async def preview_post(request: web.Request) -> web.Response:
    claims_for_agency(request)
    settings, db = request.app[SETTINGS], request.app[DATABASE]
    try:
        body = await read_json(request)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return json_error(400, "invalid_json", "the body is not valid JSON", None)
    try:
        wanted = check_preview(body)
        media = attach_media(wanted.media, lambda ids: find_media(db, ids, settings.agency))
        conform(body, PreviewRequest)
    except InputError as exc:
        return json_error(exc.status, exc.code, exc.message, exc.field)
    shown = preview(
        wanted.text,
        wanted.networks,
        link=wanted.link,
        policy=wanted.policy,
        content_warning=wanted.content_warning,
        media=media_items(media),
        require_alt=settings.require_alt_text,
        options=settings.network_options,
        title=wanted.title,
        tags=wanted.tags,
    )
    return typed_json(shown, Preview)
