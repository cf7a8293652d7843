"""Intake HTTP handlers: validate → store durably → wake the relay → 202."""

from __future__ import annotations

import json
from typing import Any

import structlog
from aiohttp import web

from services.intake.api_types import NewPost, PostList, PostView
from services.intake.keys import DATABASE, RELAY, SETTINGS
from services.intake.openapi import intake_openapi
from services.intake.store import (
    agency_pages,
    find_idempotency_key,
    find_media,
    get_post,
    insert_post,
    list_posts,
)
from services.intake.validation import validate_post
from shared.api_contract import conform, typed_json
from shared.http_body import read_json
from shared.idempotency import IDEMPOTENCY_KEY, INVALID_KEY, fingerprint, replayed, valid_key
from shared.ids import new_post_id, utc_now
from shared.post_api import Accepted
from shared.post_input import InputError
from shared.schemas import PostReceived
from shared.tokens import Claims
from shared.web import CLAIMS, AuthError, json_error

log = structlog.get_logger("relais.intake")

POSTING_ROLES = ("advisor", "admin")
# Visible ASCII, as the IETF draft "The Idempotency-Key HTTP Header Field" expects (a UUID, say).


def claims_for_agency(request: web.Request) -> Claims:
    """Advisors act for their own agency only; admins for any (every intake route checks this).
    The claims are those the access middleware checked: a token's, or an advisor's session here."""
    claims: Claims | None = request.get(CLAIMS)
    if claims is None:
        raise AuthError(401, "unauthenticated", "send Authorization: Bearer <token>, or sign in")
    if claims.role not in POSTING_ROLES:
        raise AuthError(
            403, "forbidden", f"role {claims.role!r} may not do this; needs {' or '.join(POSTING_ROLES)}"
        )
    agency = request.app[SETTINGS].agency
    if claims.role == "advisor" and claims.agency != agency:
        log.warning("auth.denied", agency=agency, token_agency=claims.agency, subject=claims.subject)
        raise AuthError(403, "wrong_agency", f"this endpoint serves agency {agency}, not {claims.agency}")
    return claims


async def create_post(request: web.Request) -> web.Response:
    claims = claims_for_agency(request)
    settings = request.app[SETTINGS]
    db = request.app[DATABASE]
    try:
        body = await read_json(request)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return json_error(400, "invalid_json", "the body is not valid JSON", None)
    # No await between this look-up and the insert (`accept`): no other request can come between.
    idempotency, answered = idempotency_of(request, claims.subject, body)
    if answered is not None:
        return answered
    try:
        new = validate_post(
            body,
            settings.agency,
            agency_pages(db),
            lambda ids: find_media(db, ids, settings.agency),
            require_alt=settings.require_alt_text,
            options=settings.network_options,
        )
        conform(body, NewPost)
    except InputError as exc:
        return json_error(exc.status, exc.code, exc.message, exc.field)
    post = PostReceived(
        post_id=new_post_id(settings.agency),
        agency=settings.agency,
        occurred_at=utc_now(),
        author=claims.subject,
        text=new.text,
        link=new.link,
        targets=new.targets,
        schedule_at=new.schedule_at,
        policy=new.policy,
        content_warning=new.content_warning,
        media=new.media,
        title=new.title,
        tags=new.tags,
    )
    return accept(request, post, idempotency)


def accept(
    request: web.Request, post: PostReceived, idempotency: tuple[str, str] | None = None
) -> web.Response:
    """Store the post in the node's outbox (durably: the 202 comes after the write is on disk), and
    wake the relay that sends it to the hub when the link allows. Posts and replies alike."""
    insert_post(request.app[DATABASE], post, idempotency)
    request.app[RELAY].wake()
    log.info(
        "post.accepted",
        post_id=post.post_id,
        agency=post.agency,
        targets=len(post.targets),
        media=[m.id for m in post.media],
        conversation=post.reply_to.conversation if post.reply_to else None,
    )
    return typed_json(Accepted(id=post.post_id, status="queued"), Accepted, 202)


def idempotency_of(
    request: web.Request, author: str, body: Any, scope: str = ""
) -> tuple[tuple[str, str] | None, web.Response | None]:
    """The request's Idempotency-Key and fingerprint (its body, and `scope`: what else it names, a
    conversation), or the answer already: a bad key, or the first answer to a resend. Posts and
    replies share the author's keys: one key is one stored request."""
    key = request.headers.get(IDEMPOTENCY_KEY)
    if key is None:
        return None, None
    if not valid_key(key):
        return None, json_error(400, "invalid_idempotency_key", INVALID_KEY, IDEMPOTENCY_KEY)
    signed = fingerprint(body, scope)
    first = find_idempotency_key(request.app[DATABASE], author, key)
    if first is not None:
        post_id, first_signed = first
        return None, replayed(post_id, request.app[SETTINGS].agency, first_signed, signed, "queued")
    return (key, signed), None


async def show_post(request: web.Request) -> web.Response:
    claims_for_agency(request)
    post = get_post(request.app[DATABASE], request.match_info["post_id"])
    if post is None:
        return json_error(404, "not_found", "no such post at this agency", "post_id")
    return typed_json(post, PostView)


async def index_posts(request: web.Request) -> web.Response:
    """The agency's latest posts (agency colleagues read each other's), or the caller's own with
    `?author=me`."""
    claims = claims_for_agency(request)
    author = request.query.get("author")
    if author is not None and author != "me":
        return json_error(
            422, "invalid_value", "author takes one value: me (the caller's own posts)", "author"
        )
    mine = claims.subject if author == "me" else None
    return typed_json({"posts": list_posts(request.app[DATABASE], mine)}, PostList)


async def openapi(request: web.Request) -> web.Response:
    """This node's document: its agency, its pages as it knows them now (shared/access.py: public)."""
    settings = request.app[SETTINGS]
    pages = tuple(sorted(agency_pages(request.app[DATABASE])))
    return web.json_response(intake_openapi(settings.agency, pages, settings.require_alt_text))
