"""The agency API's OpenAPI 3.1 document, generated from its types (services/intake/api_types.py,
shared/post_api.py) and served at `GET /v1/openapi.json`.

The document is the node's own: its agency's id in the selectors it accepts, its page ids in the
pages it may target, and whether alt text is required, so a client (or a fuzzer) that follows it
sends nothing the node refuses for a reason the document could have given.
tests/test_openapi.py checks it against the router; tests/test_schemathesis.py against the answers.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from services.intake.advocates_contract import ADVOCACY_OPERATIONS
from services.intake.api_types import (
    AssignIn,
    ComposerView,
    ConversationSummary,
    ConversationView,
    DraftIn,
    DraftList,
    DraftView,
    InboxList,
    MediaStored,
    NewPost,
    OfferedStoryList,
    PostList,
    PostView,
    Preview,
    ReplyIn,
    ShareIn,
    SharePreviewIn,
)
from services.intake.settings import MAX_DRAFT_BYTES, MAX_DRAFTS
from shared.api_contract import Answer, Operation, Parameter, health_operations, openapi_document
from shared.favicon import FAVICON_OPERATION
from shared.idempotency import KeyHeader
from shared.inbox_hiding import HideAccepted
from shared.metrics import METRICS_OPERATION
from shared.post_api import END, NOT_BLANK, Accepted, PreviewRequest
from shared.web_login import sign_in_operations

__all__ = ["OPERATIONS", "intake_openapi"]

_AUTHOR = Literal["me"]
_MALFORMED = Answer("malformed body: invalid_json, invalid_body, missing_field, unknown_field, invalid_type")
_NOT_HERE = Answer("forbidden: another agency's token (wrong_agency), or a role that may not post")
# A state-changing request on an advisor's session must carry that session's CSRF token.
_NOT_HERE_OR_CSRF = Answer(
    "forbidden: another agency's token (wrong_agency), a role that may not post, or a session's"
    " request without its X-CSRF-Token (csrf)"
)
_NOT_YOURS = Answer(
    "no draft of the caller's by this id (another's draft is answered the same: drafts are personal)"
)
_INVALID_DRAFT = Answer(
    "invalid_draft: the body is not a JSON object of a post's fields (the field says which)"
)
_NO_CONVERSATION = Answer(
    "no such conversation at this agency (another agency's is answered the same: the node holds only its own)"
)
_HTML = "text/html"
_STATIC_FILES = Annotated[
    str,
    msgspec.Meta(
        extra_json_schema={"enum": sorted(p.name for p in (Path(__file__).parent / "static").iterdir())}
    ),
]
_PAGES = ("pages",)
_TO_LOGIN = Answer("not signed in (a browser): to the sign-in page", headers={"Location": "/login"})
_UPLOAD = {
    "type": "object",
    "required": ["file"],
    "additionalProperties": False,
    "properties": {
        "file": {
            "type": "string",
            "format": "binary",
            "description": "JPEG, PNG, GIF, WebP, MP4, PDF, PPTX or ODP, judged by its content, not its"
            " name; or a WebVTT file (UTF-8, at most 20,000 bytes), taken only as a video's captions",
        }
    },
}

OPERATIONS: list[Operation] = [
    Operation(
        "POST",
        "/v1/posts",
        "Queue a post: 202 once it is stored durably at the agency",
        {
            202: Answer(
                "stored at the agency; it goes to the hub as soon as the link allows",
                Accepted,
                headers={"Idempotent-Replayed": "`true` when this answers a resend of a stored request"},
            ),
            400: Answer(f"{_MALFORMED.description}, invalid_idempotency_key"),
            403: Answer("wrong_agency, forbidden, page_not_in_agency, selector_outside_agency, csrf"),
            422: Answer(
                "breaks a rule: the code names it (too_long, unknown_media, no_page_for_network…),"
                " idempotency_key_reused (the key was used for another request), or reply_to_not_allowed"
                " (a reply is written with POST /v1/inbox/{conversation}/replies)"
            ),
        },
        body=NewPost,
        parameters=(
            Parameter(
                "Idempotency-Key",
                KeyHeader,
                "a key of the client's for this post (a UUID): a resend with the same key and body, after"
                " an answer was lost, returns the post stored the first time instead of storing another",
                location="header",
            ),
        ),
    ),
    Operation(
        "GET",
        "/v1/posts",
        "The agency's latest posts, or the caller's own",
        {
            200: Answer("latest first", PostList),
            403: _NOT_HERE,
            422: Answer("invalid_value: author is other than me"),
        },
        parameters=(
            Parameter("author", _AUTHOR, "me: only the caller's own posts (else every post of the agency)"),
        ),
    ),
    Operation(
        "GET",
        "/v1/posts/{post_id}",
        "A post and each of its deliveries",
        {200: Answer("the post", PostView), 403: _NOT_HERE, 404: Answer("no such post at this agency")},
    ),
    Operation(
        "POST",
        "/v1/preview",
        "How a post would be rendered on each network (nothing is stored)",
        {
            200: Answer("one variant per network; what a rule refuses is in its errors", Preview),
            400: _MALFORMED,
            403: _NOT_HERE_OR_CSRF,
            422: Answer("unknown_media, invalid_policy, policy_network_not_chosen, unknown_variable…"),
        },
        body=PreviewRequest,
    ),
    Operation(
        "POST",
        "/v1/media",
        "Upload an attachment: 201 once the file and its record are on disk",
        {
            201: Answer("stored at the agency; name its id in a post's media", MediaStored),
            400: Answer("not multipart/form-data, or not exactly one part named file"),
            403: _NOT_HERE_OR_CSRF,
            413: Answer("over RELAIS_MEDIA_MAX_BYTES, or a caption file over 20,000 bytes (media_too_large)"),
            415: Answer(
                "not JPEG, PNG, GIF, WebP, MP4, PDF, PPTX, ODP or UTF-8 WebVTT, by content"
                " (unsupported_media_type)"
            ),
        },
        body_schema=_UPLOAD,
        body_media_type="multipart/form-data",
    ),
    Operation(
        "GET",
        "/v1/composer",
        "What the composer needs to draw itself, computed at the node (it works offline)",
        {
            200: Answer(
                "the agency's networks (with their rules), pages and selectors, and the link's state",
                ComposerView,
            ),
            403: _NOT_HERE,
        },
    ),
    Operation(
        "GET",
        "/v1/drafts",
        "The caller's own drafts",
        {200: Answer("the most recently saved first", DraftList), 403: _NOT_HERE},
    ),
    Operation(
        "POST",
        "/v1/drafts",
        "Save a draft (kept at the node: it survives a restart)",
        {
            201: Answer("saved, the caller's alone", DraftView),
            400: _MALFORMED,
            403: _NOT_HERE_OR_CSRF,
            409: Answer(f"too_many_drafts: at most {MAX_DRAFTS} each"),
            413: Answer(
                f"over the request size limit, or a draft over {MAX_DRAFT_BYTES} bytes (draft_too_large)"
            ),
            422: _INVALID_DRAFT,
        },
        body=DraftIn,
    ),
    Operation(
        "GET",
        "/v1/drafts/{draft_id}",
        "One of the caller's drafts",
        {200: Answer("the draft", DraftView), 404: _NOT_YOURS},
    ),
    Operation(
        "PUT",
        "/v1/drafts/{draft_id}",
        "Replace one of the caller's drafts",
        {
            200: Answer("saved", DraftView),
            400: _MALFORMED,
            403: Answer("a session's request without its X-CSRF-Token (csrf)"),
            404: _NOT_YOURS,
            413: Answer(
                f"over the request size limit, or a draft over {MAX_DRAFT_BYTES} bytes (draft_too_large)"
            ),
            422: _INVALID_DRAFT,
        },
        body=DraftIn,
    ),
    Operation(
        "DELETE",
        "/v1/drafts/{draft_id}",
        "Delete one of the caller's drafts",
        {
            204: Answer("deleted"),
            403: Answer("a session's request without its X-CSRF-Token (csrf)"),
            404: _NOT_YOURS,
        },
    ),
    Operation(
        "GET",
        "/v1/inbox",
        "The agency's conversations (what people sent to its pages), the longest waiting first",
        {
            200: Answer("held at the node: it answers offline too", InboxList),
            403: _NOT_HERE,
            422: Answer("invalid_value: assignee is other than me, or queue other than shared"),
        },
        parameters=(
            Parameter("assignee", _AUTHOR, "me: only the conversations given to the caller"),
            Parameter(
                "queue",
                Literal["shared"],
                "shared: only those given to no one (the agency's queue); with assignee=me, none",
            ),
        ),
    ),
    Operation(
        "GET",
        "/v1/inbox/{conversation}",
        "A conversation and its items, the oldest first, personal identifiers masked",
        {200: Answer("the conversation", ConversationView), 403: _NOT_HERE, 404: _NO_CONVERSATION},
    ),
    Operation(
        "POST",
        "/v1/inbox/{conversation}/assign",
        "Give a conversation to an advisor of the agency, or back to its shared queue",
        {
            200: Answer(
                "stored at the node; the hub hears of it as soon as the link allows", ConversationSummary
            ),
            400: _MALFORMED,
            403: _NOT_HERE_OR_CSRF,
            404: _NO_CONVERSATION,
            422: Answer("invalid_assignee: not an enabled advisor of this agency (nor empty)"),
        },
        body=AssignIn,
    ),
    Operation(
        "POST",
        "/v1/inbox/{conversation}/items/{item_id}/hide",
        "Ask the hub to hide an item from the public on its network (a comment showing a citizen's"
        " identifiers; Facebook, Instagram, YouTube)",
        {
            202: Answer(
                "asked, on disk at the node; relayed once the link allows, the outcome follows on the"
                " conversation (`hidden`)",
                HideAccepted,
            ),
            403: _NOT_HERE_OR_CSRF,
            404: Answer("not_found: no such conversation at this agency, or not one of its items (field)"),
            409: Answer("already_hidden (asked for already), or hide_failed (hide it on the network)"),
            422: Answer(
                "cannot_hide (the network hides no comments), private_message, or not_the_pages (a mention)"
            ),
        },
    ),
    Operation(
        "POST",
        "/v1/inbox/{conversation}/replies",
        "Answer a conversation: a post to its page, as one part, with what it answers filled in here",
        {
            202: Answer(
                "stored at the agency like a post (follow it with GET /v1/posts/{post_id}); the"
                " conversation is resolved once the reply is published",
                Accepted,
                headers={"Idempotent-Replayed": "`true` when this answers a resend of a stored request"},
            ),
            400: Answer(
                f"{_MALFORMED.description}, conflicting_fields (text and saved_reply, values alone),"
                " invalid_idempotency_key"
            ),
            403: _NOT_HERE_OR_CSRF,
            404: _NO_CONVERSATION,
            422: Answer(
                "unknown_item (item_id is not one of the conversation's), nothing_to_answer,"
                " unknown_saved_reply, missing_value (a saved reply's variable without a value),"
                " idempotency_key_reused, or the text breaks a rule of the page's network (too_long"
                " names its limit: a reply is one part)"
            ),
        },
        body=ReplyIn,
        parameters=(
            Parameter(
                "Idempotency-Key",
                KeyHeader,
                "a key of the client's for this reply (a UUID): a resend with the same key, conversation"
                " and body returns the reply stored the first time instead of a second reply",
                location="header",
            ),
        ),
    ),
    *sign_in_operations(
        page="An advisor's sign-in page (the accounts are the hub's, copied here: it works offline)",
        landing="/",
        access="agency_session",
        tags=_PAGES,
    ),
    Operation(
        "GET",
        "/",
        "The composer: the signed-in advisor's page (`?reply_to=<conversation>`: to that conversation's"
        " reply form)",
        {200: Answer("the page", media_type=_HTML), 303: _TO_LOGIN},
        access="agency_session",
        tags=_PAGES,
    ),
    Operation(
        "GET",
        "/share",
        "Share a story (#16): the stories offered now, the advocate's text and connected networks, a live"
        " preview",
        {200: Answer("the page", media_type=_HTML), 303: _TO_LOGIN},
        access="agency_session",
        tags=_PAGES,
    ),
    Operation(
        "GET",
        "/inbox",
        "The agency's inbox: its conversations, the longest waiting first",
        {200: Answer("the page", media_type=_HTML), 303: _TO_LOGIN},
        access="agency_session",
        parameters=(
            Parameter("status", str, "new, pending or resolved (another value filters nothing)"),
            Parameter("mine", str, "1: only the conversations the signed-in advisor holds"),
        ),
        tags=_PAGES,
    ),
    Operation(
        "GET",
        "/inbox/{conversation}",
        "One conversation: its items (masked), the assignment and reply forms, Hide where the network can",
        {
            200: Answer("the page", media_type=_HTML),
            303: _TO_LOGIN,
            404: Answer("no such conversation at this agency", media_type=_HTML),
        },
        access="agency_session",
        path_params={"conversation": Annotated[str, msgspec.Meta(min_length=1)]},
        tags=_PAGES,
    ),
    Operation(
        "GET",
        "/static/{filename}",
        "The node's pages' scripts and stylesheet (no data in them: public)",
        {200: Answer("the file", media_type="text/css"), 404: Answer("no such file")},
        access="public",
        path_params={"filename": _STATIC_FILES},
        tags=_PAGES,
        route="/static",
    ),
    Operation(
        "GET",
        "/v1/stories",
        "The advocacy stories offered to this agency now (issue #16), each link as each network carries it",
        {200: Answer("newest first", OfferedStoryList), 403: Answer("forbidden or wrong_agency")},
    ),
    Operation(
        "POST",
        "/v1/shares",
        "Share an offered story to the caller's connected personal accounts (issue #16): 202 once stored",
        {
            202: Answer(
                "stored at the agency under the advocate's pseudonym; sent to the hub when the link allows",
                Accepted,
                headers={"Idempotent-Replayed": "`true` when this answers a resend of a stored request"},
            ),
            400: Answer(f"{_MALFORMED.description}, invalid_idempotency_key"),
            403: Answer("not_an_advocate (no consent standing), wrong_agency, forbidden, csrf"),
            422: Answer(
                "story_not_offered, network_not_connected, not_an_advocacy_network, near_duplicate_text"
                " (on X, near-identical to a suggested text), a network's rule (too_long…),"
                " idempotency_key_reused"
            ),
        },
        body=ShareIn,
        parameters=(
            Parameter(
                "Idempotency-Key",
                KeyHeader,
                "a key of the client's for this share (a UUID): a resend with the same key and body returns"
                " the share stored the first time",
                location="header",
            ),
        ),
    ),
    Operation(
        "POST",
        "/v1/shares/preview",
        "How a share would be rendered on each network, its links tagged (nothing is stored)",
        {
            200: Answer("one variant per network; what a rule refuses is in its errors", Preview),
            400: _MALFORMED,
            403: Answer("not_an_advocate, wrong_agency, forbidden, csrf"),
            422: Answer("story_not_offered, network_not_connected, not_an_advocacy_network"),
        },
        body=SharePreviewIn,
    ),
    *ADVOCACY_OPERATIONS,
    *health_operations("This document (no token needed)"),
    FAVICON_OPERATION,
    METRICS_OPERATION,
]


@functools.lru_cache(maxsize=8)
def intake_openapi(agency: str, pages: tuple[str, ...], require_alt: bool) -> dict[str, Any]:
    """The document of the node for `agency`, whose pages are `pages` (ids, as it knows them now)."""
    page_item: dict[str, Any] = {"type": "string", "enum": list(pages)} if pages else {"type": "string"}
    own = f"agency:{re.escape(agency)}" + (f"|page:({'|'.join(map(re.escape, pages))})" if pages else "")
    document = openapi_document(
        f"Relais intake (agency endpoint: {agency})",
        "Write a post once at the agency; Relais renders, approves and publishes it. Every error is"
        ' {"error": {"code", "message", "field"}}.',
        OPERATIONS,
        extra_schemas={"NewPost": {"not": {"required": ["pages", "selectors"]}}},
    )
    schemas = document["components"]["schemas"]
    properties = schemas["NewPost"]["properties"]
    properties["pages"]["items"] = page_item
    properties["selectors"]["items"] = {"type": "string", "pattern": f"^({own}){END}"}
    if require_alt:  # a post's attachments need alt text (alt_text_required); a preview's show it missing
        described = schemas["MediaChoiceIn"]
        alt = {k: v for k, v in described["properties"]["alt"].items() if k != "default"}
        schemas["MediaChoiceWithAlt"] = {
            **described,
            "title": "MediaChoiceWithAlt",
            "required": ["id", "alt"],
            "properties": {**described["properties"], "alt": {**alt, "pattern": NOT_BLANK}},
        }
        properties["media"]["items"] = {"$ref": "#/components/schemas/MediaChoiceWithAlt"}
    return document
