"""Topics and stories at the hub (issue #16 item 1): what the web-social team curates for advocates.

- `POST /v1/topics` saves a topic (a new id creates it, an existing one changes it), `GET /v1/topics`
  lists them; `POST /v1/stories` writes a story into a topic, `GET /v1/stories` lists them, and
  `POST /v1/stories/{story_id}/approve` or `/reject` decides it. The rules of a topic and a story are
  `shared.advocacy.stories` (a suggested text must fit every advocacy network with its tagged link).
- Moderation as for posts: a story waits (`pending`) until a moderator decides it; the first decision
  wins, a later or concurrent one is answered 409 `already_decided` with the decision that stands,
  changes nothing and is audited (`decision.refused`). Only an approved, unexpired story is offered.
- Scope as for posts (services/hub/scope.py): admins and national moderators act on every topic. A
  regional moderator writes topics only for her region (an audience naming only her region or its
  agencies: anything else is 403 `audience_outside_region`), and writes and decides stories only in
  those topics (403 `outside_scope`); she reads the topics offered to her region's agencies, and a
  story of another topic is a 404, as if it did not exist. Ops read. Refusals are audited
  (`permission.denied`).
- Every change is audited: `topic.saved`, `story.written`, `story.approved`, `story.rejected`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec
import sqlite_utils
import structlog
from aiohttp import web
from ulid import ULID

from services.hub.keys import DATABASE, MIRROR, PUBLIC_KEY
from services.hub.scope import READERS, is_regional
from services.hub.store import append_uncommitted
from shared.access import note_refusal
from shared.advocacy.stories import Audience, StoryError, parse_story, parse_topic
from shared.api_contract import Answer, ErrorDetail, Operation, conform, typed_json
from shared.http_body import read_json
from shared.ids import utc_now
from shared.post_api import NOT_BLANK
from shared.post_input import InputError
from shared.saved_replies import Language
from shared.sqlite_writes import write_transaction
from shared.tokens import Claims
from shared.web import bearer_claims, json_error

__all__ = ["OPERATIONS", "add_routes"]

log = structlog.get_logger("relais.hub.advocacy")

WRITERS = ("admin", "moderator")
Slug = Annotated[str, msgspec.Meta(pattern="^[a-z0-9][a-z0-9_-]{0,63}$")]

Title = Annotated[str, msgspec.Meta(min_length=1, max_length=120, pattern=NOT_BLANK)]
SuggestedText = Annotated[str, msgspec.Meta(min_length=1, max_length=5000, pattern=NOT_BLANK)]


class AudienceIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Regions and agencies the topic is offered to; both empty: every agency."""

    regions: list[Slug] = []
    agencies: list[Slug] = []


class TopicIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: Slug
    titles: Annotated[dict[Language, Title], msgspec.Meta(min_length=1)]
    required: bool = False
    audience: AudienceIn = AudienceIn()


class TopicView(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: str
    titles: dict[str, str]
    required: bool
    audience: AudienceIn
    version: int
    updated_by: str
    updated_at: str


class TopicList(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    topics: list[TopicView]


class MediaIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    media_id: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    alt: Annotated[str, msgspec.Meta(min_length=1, max_length=1000, pattern=NOT_BLANK)]


class StoryIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    topic: Slug
    link: Annotated[str, msgspec.Meta(pattern="^https://", max_length=2000)]
    texts: Annotated[dict[Language, SuggestedText], msgspec.Meta(min_length=1)]
    expires_at: Annotated[
        str,
        msgspec.Meta(
            description="ISO 8601 with its offset, in the future", extra_json_schema={"format": "date-time"}
        ),
    ]
    hashtag: Annotated[str, msgspec.Meta(pattern=r"^#", max_length=100)] | None = None
    media: list[MediaIn] = []


class StoryView(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: str
    topic: str
    link: str
    texts: dict[str, str]
    hashtag: str | None
    media: list[MediaIn]
    expires_at: str
    status: Literal["pending", "approved", "rejected"]
    author: str
    written_at: str
    decided_by: str | None
    decided_at: str | None
    reason: str | None


class StoryList(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    stories: list[StoryView]


class RejectStoryIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=1000, pattern=NOT_BLANK)]


class AlreadyDecidedStory(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """409 `already_decided`: the error shape, with the story as decided."""

    error: ErrorDetail
    decision: StoryView


_FORBIDDEN = Answer("forbidden: this role, or this moderator's region, may not do this")
_MALFORMED = Answer("malformed body: invalid_json, invalid_body, missing_field, unknown_field, invalid_type")
_STORY_ID = {"story_id": Annotated[str, msgspec.Meta(pattern="^[0-9A-HJKMNP-TV-Z]{26}$")]}  # a ULID
OPERATIONS = [
    Operation("GET", "/v1/topics", "The advocacy topics this reader may see", {200: Answer("", TopicList)}),
    Operation(
        "POST",
        "/v1/topics",
        "Save a topic (admin, moderator): a new id creates it, an existing one changes it",
        {
            200: Answer("saved", TopicView),
            400: _MALFORMED,
            403: _FORBIDDEN,
            422: Answer("invalid_value"),
        },
        body=TopicIn,
    ),
    Operation(
        "GET",
        "/v1/stories",
        "The stories of the topics this reader may see, newest first",
        {200: Answer("", StoryList)},
    ),
    Operation(
        "POST",
        "/v1/stories",
        "Write a story into a topic (admin, moderator): it waits for a moderator's decision",
        {
            201: Answer("written, pending", StoryView),
            400: _MALFORMED,
            403: _FORBIDDEN,
            422: Answer(
                "invalid_value, unknown_topic, invalid_link, invalid_hashtag, invalid_datetime, expiry_past,"
                " does_not_fit (a suggested text too long for a network once its link is tagged)"
            ),
        },
        body=StoryIn,
    ),
    Operation(
        "POST",
        "/v1/stories/{story_id}/approve",
        "Approve a pending story: advocates are offered it until it expires",
        {
            200: Answer("approved", StoryView),
            403: _FORBIDDEN,
            404: Answer("not_found"),
            409: Answer("already_decided: the decision that stands", AlreadyDecidedStory),
        },
        path_params=_STORY_ID,
    ),
    Operation(
        "POST",
        "/v1/stories/{story_id}/reject",
        "Reject a pending story, saying why",
        {
            200: Answer("rejected", StoryView),
            400: _MALFORMED,
            403: _FORBIDDEN,
            404: Answer("not_found"),
            409: Answer("already_decided: the decision that stands", AlreadyDecidedStory),
            422: Answer("invalid_value"),
        },
        body=RejectStoryIn,
        path_params=_STORY_ID,
    ),
]


def _audience(row: dict[str, Any]) -> Audience:
    return Audience(
        regions=frozenset(json.loads(row["regions"])), agencies=frozenset(json.loads(row["agencies"]))
    )


def _regions_of(request: web.Request, audience: Audience) -> set[str | None]:
    """Every region the audience reaches (None for an agency the registry does not know)."""
    mirror = request.app[MIRROR]
    return set(audience.regions) | {mirror.region_of(agency) for agency in audience.agencies}


def _may_act(request: web.Request, claims: Claims, audience: Audience) -> bool:
    """Whether `claims` may write or decide in a topic with this audience: hers alone if regional."""
    if not is_regional(claims):
        return True
    return bool(audience.regions or audience.agencies) and _regions_of(request, audience) == {claims.region}


def _may_read(request: web.Request, claims: Claims, audience: Audience) -> bool:
    """Whether the topic is offered to some agency of the reader's region (every topic if national)."""
    if not is_regional(claims) or not (audience.regions or audience.agencies):
        return True
    return claims.region in _regions_of(request, audience)


def _topics(db: sqlite_utils.Database) -> dict[str, dict[str, Any]]:
    return {row["id"]: row for row in db.execute_returning_dicts("select * from advocacy_topics order by id")}


def _topic_view(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "titles": json.loads(row["titles"]),
        "required": bool(row["required"]),
        "audience": {"regions": json.loads(row["regions"]), "agencies": json.loads(row["agencies"])},
        "version": row["version"],
        "updated_by": row["updated_by"],
        "updated_at": row["updated_at"],
    }


def _story_view(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **{
            name: row[name]
            for name in ("id", "topic", "link", "expires_at", "status", "author", "written_at")
        },
        "texts": json.loads(row["texts"]),
        "media": json.loads(row["media"]),
        **{name: row[name] or None for name in ("hashtag", "decided_by", "decided_at", "reason")},
    }


def _audit(db: sqlite_utils.Database, event: str, actor: str, detail: dict[str, Any]) -> None:
    append_uncommitted(
        db,
        source=f"hub:{event}:{ULID()}",
        occurred_at=utc_now(),
        post_id="",
        agency="",
        event=event,
        actor=actor,
        detail=detail,
    )


async def list_topics(request: web.Request) -> web.Response:
    claims = bearer_claims(request, request.app[PUBLIC_KEY], READERS)
    rows = _topics(request.app[DATABASE]).values()
    visible = [_topic_view(row) for row in rows if _may_read(request, claims, _audience(row))]
    return typed_json({"topics": visible}, TopicList)


async def save_topic(request: web.Request) -> web.Response:
    claims = bearer_claims(request, request.app[PUBLIC_KEY], WRITERS)
    body = await read_json(request)
    try:
        conform(body, TopicIn)
        topic = parse_topic(body)
    except InputError as exc:
        return json_error(exc.status, exc.code, exc.message, exc.field)
    except StoryError as exc:
        return json_error(422, exc.code, str(exc), exc.field)
    db = request.app[DATABASE]
    existing = _topics(db).get(topic.id)
    if not _may_act(request, claims, topic.audience) or (
        existing is not None and not _may_act(request, claims, _audience(existing))
    ):
        note_refusal(request, "a topic outside the moderator's region", claims=claims)
        return json_error(
            403, "audience_outside_region", "a regional moderator's topic is for her region", "audience"
        )
    with write_transaction(db):
        db.execute(
            "insert into advocacy_topics (id, titles, required, regions, agencies, version, updated_by,"
            " updated_at) values (?, ?, ?, ?, ?, 1, ?, ?)"
            " on conflict (id) do update set titles = excluded.titles,"
            " required = excluded.required, regions = excluded.regions, agencies = excluded.agencies,"
            " version = advocacy_topics.version + 1, updated_by = excluded.updated_by,"
            " updated_at = excluded.updated_at",
            [
                topic.id,
                json.dumps(dict(topic.titles), ensure_ascii=False),
                int(topic.required),
                json.dumps(sorted(topic.audience.regions)),
                json.dumps(sorted(topic.audience.agencies)),
                claims.subject,
                utc_now(),
            ],
        )
        _audit(db, "topic.saved", claims.subject, {"topic": topic.id, "required": topic.required})
    log.info("advocacy.topic_saved", topic=topic.id, by=claims.subject)
    return typed_json(_topic_view(_topics(db)[topic.id]), TopicView)


def _story_row(db: sqlite_utils.Database, story_id: str) -> dict[str, Any] | None:
    rows = db.execute_returning_dicts("select * from advocacy_stories where id = ?", [story_id])
    return rows[0] if rows else None


async def list_stories(request: web.Request) -> web.Response:
    claims = bearer_claims(request, request.app[PUBLIC_KEY], READERS)
    db = request.app[DATABASE]
    topics = _topics(db)
    readable = {t for t, row in topics.items() if _may_read(request, claims, _audience(row))}
    rows = db.execute_returning_dicts("select * from advocacy_stories order by id desc")
    return typed_json({"stories": [_story_view(r) for r in rows if r["topic"] in readable]}, StoryList)


async def write_story(request: web.Request) -> web.Response:
    claims = bearer_claims(request, request.app[PUBLIC_KEY], WRITERS)
    body = await read_json(request)
    db, story_id = request.app[DATABASE], str(ULID())
    topics = _topics(db)
    try:
        conform(body, StoryIn)
        story = parse_story(body, story_id=story_id, now=datetime.now(UTC), topics=topics)
    except InputError as exc:
        return json_error(exc.status, exc.code, exc.message, exc.field)
    except StoryError as exc:
        return json_error(422, exc.code, str(exc), exc.field)
    if not _may_act(request, claims, _audience(topics[story.topic])):
        note_refusal(request, "a topic outside the moderator's region", claims=claims)
        return json_error(403, "outside_scope", "this topic is not for your region alone", "topic")
    now = utc_now()
    with write_transaction(db):
        db.table("advocacy_stories").insert(
            {
                "id": story.id,
                "topic": story.topic,
                "link": story.link,
                "texts": json.dumps(dict(story.texts), ensure_ascii=False),
                "hashtag": story.hashtag,
                "media": json.dumps(
                    [{"media_id": m.media_id, "alt": m.alt} for m in story.media], ensure_ascii=False
                ),
                "expires_at": story.expires_at.isoformat(),
                "status": "pending",
                "author": claims.subject,
                "written_at": now,
            }
        )
        _audit(db, "story.written", claims.subject, {"story": story.id, "topic": story.topic})
    log.info("advocacy.story_written", story=story.id, topic=story.topic, by=claims.subject)
    row = _story_row(db, story.id)
    assert row is not None
    return typed_json(_story_view(row), StoryView, status=201)


async def _decide(
    request: web.Request, claims: Claims, decision: Literal["approved", "rejected"], reason: str | None
) -> web.Response:
    db, story_id = request.app[DATABASE], request.match_info["story_id"]
    row = _story_row(db, story_id)
    topic = _topics(db).get(row["topic"]) if row else None
    if row is None or topic is None or not _may_read(request, claims, _audience(topic)):
        if row is not None:
            note_refusal(request, "a story outside the moderator's region", claims=claims, status=404)
        return json_error(404, "not_found", "the hub has no such story", "story_id")
    if not _may_act(request, claims, _audience(topic)):
        note_refusal(request, "a story outside the moderator's region", claims=claims)
        return json_error(403, "outside_scope", "this story's topic is not for your region alone", "story_id")
    with write_transaction(db):
        decided = db.execute(
            "update advocacy_stories set status = ?, decided_by = ?, decided_at = ?, reason = ?"
            " where id = ? and status = 'pending'",
            [decision, claims.subject, utc_now(), reason, story_id],
        ).rowcount
        standing = _story_row(db, story_id)
        assert standing is not None
        event = f"story.{decision}" if decided else "decision.refused"
        _audit(db, event, claims.subject, {"story": story_id, "decision": standing["status"]})
    if not decided:
        return typed_json(
            {
                "error": {
                    "code": "already_decided",
                    "message": f"this story was {standing['status']} already",
                    "field": "story_id",
                },
                "decision": _story_view(standing),
            },
            AlreadyDecidedStory,
            status=409,
        )
    log.info("advocacy.story_decided", story=story_id, decision=decision, by=claims.subject)
    return typed_json(_story_view(standing), StoryView)


async def approve_story(request: web.Request) -> web.Response:
    claims = bearer_claims(request, request.app[PUBLIC_KEY], WRITERS)
    return await _decide(request, claims, "approved", None)


async def reject_story(request: web.Request) -> web.Response:
    claims = bearer_claims(request, request.app[PUBLIC_KEY], WRITERS)
    body = await read_json(request)
    try:
        conform(body, RejectStoryIn)
    except InputError as exc:
        return json_error(exc.status, exc.code, exc.message, exc.field)
    return await _decide(request, claims, "rejected", body["reason"].strip())


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/topics", list_topics)
    app.router.add_post("/v1/topics", save_topic)
    app.router.add_get("/v1/stories", list_stories)
    app.router.add_post("/v1/stories", write_story)
    app.router.add_post("/v1/stories/{story_id}/approve", approve_story)
    app.router.add_post("/v1/stories/{story_id}/reject", reject_story)
