"""The agency API's bodies as types: what `/v1/openapi.json` documents and the handlers answer with
(`typed_json`). A post's writing fields are shared with the hub (shared/post_api.py)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from services.intake.validation import ALLOWED_FIELDS
from shared.fitting_policy import FittingPolicy
from shared.i18n import IDENTIFIER_KINDS
from shared.inbox_hiding import HiddenState, HideError
from shared.networks.facts import CAPTION_TYPE
from shared.networks.media import MEDIA_KINDS
from shared.post_api import (
    ContentWarning,
    DeliveryErrorView,
    DeliveryStatus,
    Link,
    MediaChoices,
    Networks,
    PartView,
    PolicyChoiceIn,
    PostStatus,
    ScheduleAt,
    Tags,
    Text,
    Title,
)
from shared.schemas import ESCALATION_LEVELS, INBOX_KINDS

__all__ = [
    "AssignIn",
    "ComposerView",
    "ConversationSummary",
    "ConversationView",
    "DraftIn",
    "DraftList",
    "DraftView",
    "InboxItemView",
    "InboxList",
    "MediaStored",
    "NewPost",
    "OfferedStoryList",
    "OfferedStoryView",
    "PostList",
    "PostView",
    "Preview",
    "ShareIn",
    "SharePreviewIn",
]

MediaType = Annotated[str, msgspec.Meta(extra_json_schema={"enum": [*MEDIA_KINDS, CAPTION_TYPE]})]
PageIds = Annotated[
    list[Annotated[str, msgspec.Meta(min_length=1)]],
    msgspec.Meta(min_length=1, max_length=1000, description="some of this agency's page ids"),
]
Selectors = Annotated[
    list[Annotated[str, msgspec.Meta(min_length=1)]],
    msgspec.Meta(
        min_length=1, max_length=1000, description="agency:<this agency> or page:<one of its pages>"
    ),
]


class NewPost(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """`POST /v1/posts`: pages default to the agency's pages on the chosen networks; give `pages`
    or `selectors`, not both."""

    text: Text
    networks: Networks
    link: Link | msgspec.UnsetType = msgspec.UNSET
    pages: PageIds | msgspec.UnsetType = msgspec.UNSET
    selectors: Selectors | msgspec.UnsetType = msgspec.UNSET
    schedule_at: ScheduleAt | msgspec.UnsetType = msgspec.UNSET
    policy: PolicyChoiceIn | msgspec.UnsetType = msgspec.UNSET
    content_warning: ContentWarning | msgspec.UnsetType = msgspec.UNSET
    media: MediaChoices | msgspec.UnsetType = msgspec.UNSET
    title: Title | msgspec.UnsetType = msgspec.UNSET
    tags: Tags | msgspec.UnsetType = msgspec.UNSET


class MediaStored(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """An attachment on the agency's disk; name its id in a post's `media`."""

    id: str
    content_type: MediaType
    size: int


class CaptionShown(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    lang: str
    media_id: str


class MediaShown(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: str
    alt: str
    content_type: MediaType
    size: int
    captions: list[CaptionShown]  # a video's caption files


class DeliveryView(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    network: str
    page: str
    status: DeliveryStatus
    remote_id: str | None
    url: str | None
    error: DeliveryErrorView | None
    parts: list[PartView]  # every part of a published thread, first one first
    throttled_until: str | None  # while throttled: when the network's rate limit resets (UTC)


class ReplyView(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    conversation: str
    item_id: str  # the network's id of the item answered


class PostView(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A post at its agency, with each of its deliveries (campaigns reaching the agency too)."""

    id: str
    agency: str
    author: str
    status: PostStatus
    reason: str | None
    text: str  # what is published: a moderator's edit, when there was one
    original_text: str | None  # the advisor's own text when a moderator edited it, else null
    link: str | None
    schedule_at: str | None
    created_at: str
    policy: dict[str, FittingPolicy]
    content_warning: str | None
    title: str | None  # as given (each network's rules decide whether and how it is sent)
    tags: list[str]
    media: list[MediaShown]
    deliveries: list[DeliveryView]
    reply_to: (
        ReplyView | None
    )  # a reply to the inbox: what it answers (POST /v1/inbox/{conversation}/replies)


class PostSummary(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: str
    status: PostStatus
    created_at: str
    author: str
    text: str  # what is published: a moderator's edit, when there was one
    reason: str | None  # why a moderator rejected it, or why it is invalid or expired
    schedule_at: str | None
    networks: list[str]  # those its deliveries go to, in the registry's order
    edited: bool  # a moderator changed the text (the post's view has the advisor's own)


class PostList(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The agency's latest posts (or the caller's, `?author=me`), latest first."""

    posts: list[PostSummary]


class LimitView(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    unit: str
    limit: int
    length: int


class PartPreview(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    text: str
    length: int
    # Bluesky facets (index.byteStart/byteEnd in UTF-8 bytes) or Telegram entities, when any.
    facets: list[dict[str, Any]] | msgspec.UnsetType = msgspec.UNSET


class RuleError(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    code: str
    message: str


class VariantPreview(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    network: str
    unit: str  # the network's main measure
    limit: int
    length: int  # the text as written, after normalisation
    fits: bool
    policy: FittingPolicy | None  # applied because the text did not fit
    other_limits: list[LimitView]
    parts: list[PartPreview]  # exactly what would be sent (several for a thread)
    errors: list[RuleError]
    title: str | None  # the title as sent: None where the network takes none
    tags: list[str]  # the tags as sent: none where the network takes none
    notices: list[RuleError]  # what of the post this network does not send (title, tags, captions)


class Preview(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One variant per network, in the order asked; rule problems are in each one's `errors`."""

    variants: list[VariantPreview]


class MediaRules(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What a network takes as attachments, as data from the network rules (the page words it)."""

    types: list[str]  # file types (content types) it takes
    kinds: list[str]  # image, gif, video, document
    max_bytes: dict[str, int]  # the largest file per kind, where the network says
    max_alt: int | None  # the longest alt text, where the network says
    max_images: int | None  # images in one post (None: no cap of the network's own)
    video: bool  # takes a video
    documents: list[str]  # the document types it takes (a presentation)
    required: bool  # a post there needs an attachment (Instagram, YouTube, SlideShare)
    video_alone: bool  # a video must be the post's only attachment
    text_limit: int  # the text's limit once an attachment comes along (Telegram's caption)


class NetworkChoice(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    network: str
    name: str  # as people write it: "X", "LinkedIn"…
    unit: str
    limit: int
    media: MediaRules
    takes_title: bool
    takes_tags: bool  # keywords (SlideShare's tags, YouTube's): the composer shows their field
    policies: list[FittingPolicy]  # the fitting policies that mean something there
    default_policy: FittingPolicy


class PageChoice(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: str
    network: str
    handle: str
    name: str  # the agency's name and the network's: never the network's bare name
    timezone: str
    status: str


class SelectorChoice(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    selector: str
    pages: int  # how many pages it reaches


class ComposerView(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What the composer needs to draw itself, from the node alone (it works offline): the
    networks the agency has pages on (in the registry's order), its pages, its selectors, and
    whether the link to the hub is up right now."""

    agency: str
    advisor: str
    networks: list[NetworkChoice]
    pages: list[PageChoice]
    selectors: list[SelectorChoice]
    link_up: bool


DraftBody = Annotated[
    dict[str, Any],
    msgspec.Meta(
        description="a post's body as the composer holds it: any of POST /v1/posts's fields, not checked"
        " as a post (a draft may be incomplete); at most 65,536 bytes of JSON",
        extra_json_schema={"propertyNames": {"enum": sorted(ALLOWED_FIELDS)}},
    ),
]


class DraftIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """`POST /v1/drafts`, `PUT /v1/drafts/{draft_id}`."""

    body: DraftBody


class DraftView(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A draft of the caller's own."""

    id: str
    created_at: str
    updated_at: str
    body: DraftBody


class DraftList(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The caller's drafts, the most recently saved first."""

    drafts: list[DraftView]


# ---------------------------------------------------------------------------------------------
# The inbox (services/intake/inbox_api.py)

Assignee = Annotated[
    str,
    msgspec.Meta(
        max_length=200,
        description='an advisor of this agency (their user id), or "" for the agency\'s shared queue',
    ),
]
EscalationLevel = Annotated[str, msgspec.Meta(extra_json_schema={"enum": list(ESCALATION_LEVELS)})]
IdentifierKind = Annotated[str, msgspec.Meta(extra_json_schema={"enum": list(IDENTIFIER_KINDS)})]
InboxKind = Annotated[str, msgspec.Meta(extra_json_schema={"enum": list(INBOX_KINDS)})]


class ConversationSummary(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A conversation on one of the agency's pages: who answers it, and how far it was escalated."""

    id: str
    network: str
    page: str
    post_id: str  # the Relais post it answers, "" when none
    # new; pending while an advisor has it; resolved once a reply to it is published (new or pending
    # again when the person writes after it)
    status: Annotated[str, msgspec.Meta(extra_json_schema={"enum": ["new", "pending", "resolved"]})]
    assignee: str  # an advisor's user id, "" for the agency's shared queue
    escalation: EscalationLevel | None  # the hub's last escalation, None before any
    deadline: str | None  # the deadline the hub escalated against (the calendar zone's offset)
    calendar: str | None
    items: int
    first_item_at: str | None
    last_item_at: str | None
    updated_at: str


class InboxList(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The agency's conversations, the longest waiting first."""

    conversations: list[ConversationSummary]


class InboxItemView(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One thing a person sent, with their identifiers masked before it reached the bus."""

    item_id: str  # the network's own id
    kind: InboxKind
    parent_id: str | None
    author_name: str
    text: str  # as stored, each masked identifier a token (⟦phone⟧)
    shown: str  # the text in the reader's words, each token named (« [numéro de téléphone — masqué] »)
    masked: list[IdentifierKind]
    notice: str | None  # when something was masked: what the advisor should do, in the reader's words
    created_at: str
    url: str | None
    # Hidden from the public on the network (#15 item 5): null until asked; `requested`, then `hidden`,
    # or `failed` with `hide_error` (the network's reason, in words).
    hidden: HiddenState | None = None
    hide_error: HideError | None = None


class ConversationView(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A conversation and its items, the oldest first."""

    conversation: ConversationSummary
    items: list[InboxItemView]


class AssignIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """`POST /v1/inbox/{conversation}/assign`."""

    assignee: Assignee


class ReplyIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """`POST /v1/inbox/{conversation}/replies`: the advisor's `text`, or a `saved_reply` with the
    `values` of its variables (`{auteur}` and `{agence}` default to what the node knows)."""

    text: Text | msgspec.UnsetType = msgspec.UNSET
    saved_reply: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    values: (
        Annotated[
            dict[Annotated[str, msgspec.Meta(max_length=50)], Annotated[str, msgspec.Meta(max_length=2000)]],
            msgspec.Meta(max_length=20),
        ]
        | msgspec.UnsetType
    ) = msgspec.UNSET
    item_id: (
        Annotated[
            str,
            msgspec.Meta(
                min_length=1,
                max_length=500,
                description="the item answered, one of the conversation's (default: its latest)",
            ),
        ]
        | msgspec.UnsetType
    ) = msgspec.UNSET


class OfferedStoryView(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: str
    topic: str
    topic_titles: dict[str, str]
    required: bool
    link: str
    links: dict[str, str]  # network -> the link as this agency shares it there (UTM parameters)
    texts: dict[str, str]
    hashtag: str | None
    media: list[dict[str, str]]
    expires_at: str


class OfferedStoryList(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    stories: list[OfferedStoryView]


AdvocacyNetworks = Annotated[
    list[Annotated[str, msgspec.Meta(extra_json_schema={"enum": ["x", "linkedin", "mastodon", "bluesky"]})]],
    msgspec.Meta(min_length=1, max_length=4, description="some of the advocate's connected networks"),
]


class ShareIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """`POST /v1/shares`: an advocate shares an offered story, in her own words, to her own accounts."""

    story: Annotated[str, msgspec.Meta(min_length=1, description="the id of a story offered here now")]
    networks: AdvocacyNetworks
    text: Text
    schedule_at: ScheduleAt | msgspec.UnsetType = msgspec.UNSET


class SharePreviewIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """`POST /v1/shares/preview`: the share's text on each network, with the story's tagged link."""

    story: Annotated[str, msgspec.Meta(min_length=1)]
    networks: AdvocacyNetworks
    text: Text
