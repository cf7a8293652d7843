"""The bus contract: message types, the subjects they travel on, and the streams that keep them.

Every message is a msgspec Struct encoded as JSON. Subjects are lower-case and dot-separated with
the agency second so that one agency's traffic can be filtered (and, later, permitted) by wildcard.
The README's message table is tested against `MESSAGES`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, TypeVar

import msgspec

from shared.advocacy.accounts import ShareOf
from shared.fitting_policy import FittingPolicy

__all__ = [
    "ADVOCACY_EVENTS",
    "DEFAULT_PAGE_CALENDAR",
    "ENGAGEMENT_AGES",
    "ESCALATION_LEVELS",
    "HIDE_OUTCOMES",
    "INBOX_KINDS",
    "MESSAGES",
    "STREAMS",
    "AccessDenied",
    "AdvocateAccountStatus",
    "AdvocateConnected",
    "AdvocateDisconnected",
    "AdvocateEnrolled",
    "AdvocateForgotten",
    "AdvocateOptedOut",
    "AgencyHeartbeat",
    "CaptionRef",
    "DeliveryActionRequested",
    "DeliveryDeadLettered",
    "DeliveryUpdated",
    "EngagementMeasured",
    "ErrorReport",
    "InboxAssigned",
    "InboxEscalated",
    "InboxHideOrdered",
    "InboxHideRequested",
    "InboxItemHidden",
    "InboxItemReceived",
    "MediaRef",
    "Message",
    "PageTarget",
    "PageThrottled",
    "PostAnnounced",
    "PostApproved",
    "PostEdited",
    "PostExpired",
    "PostInvalid",
    "PostQueued",
    "PostReceived",
    "PostRejected",
    "PostRendered",
    "PostScheduled",
    "PostTargeted",
    "PublishedPart",
    "ReplyTo",
    "ShareOf",
    "Target",
    "UnknownSubject",
    "Variant",
    "conversation_key",
    "decode",
    "encode",
    "engagement_msg_id",
    "engagement_subject",
    "inbox_msg_id",
    "inbox_subject",
    "media_bucket_name",
]


class Message(msgspec.Struct, frozen=True, kw_only=True):
    """Fields every event carries so that each log line and audit entry can name its post."""

    post_id: str
    agency: str
    occurred_at: str  # ISO-8601 UTC, set by the producer


class Target(msgspec.Struct, frozen=True):
    network: str
    page: str


def media_bucket_name(agency: str) -> str:
    """The JetStream object store holding the bytes of an agency's attachments, by media id.

    One bucket per agency: NATS permissions can pin a bucket's subjects to its agency, not the
    object names inside a shared one (an agency could otherwise replace another's files).
    """
    return f"media-{agency}"


class CaptionRef(msgspec.Struct, frozen=True, kw_only=True):
    """A video's captions in one language: a WebVTT file (`text/vtt`) uploaded like an attachment,
    in the same object store under `id`."""

    lang: str  # a BCP-47 language tag: "fr", "ar"…
    id: str
    size: int
    sha256: str


class MediaRef(msgspec.Struct, frozen=True, kw_only=True):
    """An attachment as messages carry it: never the bytes, which are in the writing agency's
    object store (`media_bucket_name`) under `id`, put there by its relay before the post."""

    id: str
    content_type: str
    size: int
    sha256: str  # hex digest of the bytes, to check what is fetched from the object store
    alt: str = ""
    captions: list[CaptionRef] = []  # a video's caption files (networks that take none ignore them)


class ReplyTo(msgspec.Struct, frozen=True, kw_only=True):
    """What a reply answers (issue #15 item 4). A reply is a post like any other, with its durable
    outbox at the node, its formatting, its moderation (an agency's policy may hold replies) and its
    exactly-once delivery, but to exactly one page, the conversation's, sent by the dispatcher with the
    network's reply API instead of its posting one. Its delivery's `published` closes the
    conversation's clock at the hub."""

    conversation: str  # conversation_key(network, root_id)
    network: str
    page: str
    item_id: str  # the network's id of the item answered
    root_id: str  # the thread's first item (Bluesky's reply refs name both root and parent)
    kind: str  # the answered item's kind (INBOX_KINDS): `message` goes back in the private chat


class PostReceived(Message, frozen=True, kw_only=True):
    """A post, accepted and stored durably where it was written (an agency, or the hub for national
    campaigns). Its pages are explicit `targets`, or `selectors` on the chosen `networks`."""

    author: str
    text: str
    targets: list[Target] = []
    selectors: list[str] = []
    networks: list[str] = []
    link: str | None = None
    schedule_at: str | None = None  # with an offset: that instant; without: that time in each page's zone
    policy: dict[str, FittingPolicy] = {}  # per network; a network not named keeps its own default
    content_warning: str | None = None  # Mastodon's spoiler text, counted with the text there
    media: list[MediaRef] = []
    # A presentation's or video's title and keywords; each network's rules decide whether to send
    # them (SlideShare and YouTube do, deriving a title from the text when none is given).
    title: str | None = None
    tags: list[str] = []
    reply_to: ReplyTo | None = None  # a reply to an inbox item: one target, the conversation's page
    # A share of an advocacy story (#16): its targets are the advocate's personal pages only, and its
    # author is the advocate's pseudonym (shared.advocacy.accounts).
    share: ShareOf | None = None


class PageTarget(msgspec.Struct, frozen=True):
    """One page a post goes to, with what the formatter needs to word it for that page."""

    network: str
    page: str
    agency: str
    timezone: str
    variables: dict[str, str] = {}


class PostTargeted(Message, frozen=True, kw_only=True):
    """The federation resolved a post's selectors into pages (one delivery per page, once)."""

    author: str
    text: str
    targets: list[PageTarget]
    link: str | None = None
    schedule_at: str | None = None
    policy: dict[str, FittingPolicy] = {}
    content_warning: str | None = None
    media: list[MediaRef] = []
    revision: int = 0  # > 0: the text a moderator edited, to be rendered again
    edited_by: str | None = None
    title: str | None = None
    tags: list[str] = []
    reply_to: ReplyTo | None = None
    share: ShareOf | None = None  # the formatter tags a share's links with UTM parameters per network


class PostAnnounced(Message, frozen=True, kw_only=True):
    """A post from elsewhere (a national campaign) that goes to this agency's pages."""

    origin_agency: str
    author: str
    text: str
    targets: list[Target]
    link: str | None = None
    schedule_at: str | None = None
    # A reply written at the hub for this agency (services/hub/inbox_replies.py): what it answers, so
    # that the node resolves its conversation when the reply is published, as for its own replies.
    reply_to: ReplyTo | None = None


class Variant(msgspec.Struct, frozen=True):
    """One post rendered for one page: the exact parts that will be sent."""

    network: str
    page: str
    parts: list[str]
    agency: str = ""  # the page's agency, whose node follows this delivery
    timezone: str = ""
    # One entry per part: Bluesky facets (UTF-8 byte ranges) or Telegram entities, None for plain text.
    facets: list[list[dict[str, Any]] | None] = []
    # The title and tags as this network is sent them: none where it takes none (its rules decide).
    title: str | None = None
    tags: list[str] = []
    reply_to: ReplyTo | None = None  # sent with the network's reply API (see ReplyTo)


class PostRendered(Message, frozen=True, kw_only=True):
    author: str
    variants: list[Variant]
    link: str | None = None
    schedule_at: str | None = None
    content_warning: str | None = None  # sent with the Mastodon variants
    media: list[MediaRef] = []  # attached to every variant, in this order
    revision: int = 0
    edited_by: str | None = None  # a moderator who edited the text has approved it


class PostInvalid(Message, frozen=True, kw_only=True):
    """The formatter refused the post; `reasons` say why, one per offending network or page."""

    reasons: list[str]


class PostApproved(Message, frozen=True, kw_only=True):
    approved_by: str
    variants: list[Variant]
    link: str | None = None
    schedule_at: str | None = None
    content_warning: str | None = None  # as rendered
    media: list[MediaRef] = []  # as rendered


class PostRejected(Message, frozen=True, kw_only=True):
    rejected_by: str
    reason: str


class PostEdited(Message, frozen=True, kw_only=True):
    """A moderator changed the text before approving it; `diff` is what changed (unified diff)."""

    edited_by: str
    revision: int
    text: str
    diff: str


class PostQueued(Message, frozen=True, kw_only=True):
    """Held at the hub for a moderator: its policy does not approve it by itself."""

    pages: list[str]


class PostScheduled(Message, frozen=True, kw_only=True):
    """Approved, and held at the hub until its time (the earliest of its pages' times, in UTC)."""

    approved_by: str
    publish_at: str


class PostExpired(Message, frozen=True, kw_only=True):
    """These pages' time passed beyond the grace period before the post could be published."""

    pages: list[str]
    reason: str


class ErrorReport(msgspec.Struct, frozen=True):
    """What went wrong with a delivery, as a bus message tells it: plain words a person can act on,
    and the network's own code when it gave one. (The dispatcher's adapters raise `DeliveryError`,
    an exception; this is what is said of it.)"""

    message: str
    network_code: str | None = None


class PublishedPart(msgspec.Struct, frozen=True):
    """One part of a published thread: its id on the network and its public URL."""

    remote_id: str
    url: str | None = None


class DeliveryUpdated(Message, frozen=True, kw_only=True):
    """A delivery (one variant to one page) changed status."""

    network: str
    page: str
    status: str
    remote_id: str | None = None
    url: str | None = None
    error: ErrorReport | None = None
    parts: list[PublishedPart] = []  # every part of a thread, first one first
    throttled_until: str | None = None  # status `throttled`: when the network's limit resets (UTC ISO)
    # status `published`: when the network dated the publication (UTC ISO), where its answer says
    # (Mastodon's `created_at`…); None where it does not: readers then take `occurred_at`.
    published_at: str | None = None
    # The delivery answers an item (an inbox reply): its figures are never read back. A shard taking
    # over the page learns it here, before the approval naming the item is replayed.
    reply: bool = False


class PageNeedsReauth(Message, frozen=True, kw_only=True):
    """A network refused a page's token or permissions: nothing more is attempted on the page until
    a person reconnects it. `post_id` names the delivery that found out."""

    network: str
    page: str
    error: ErrorReport


class PageThrottled(Message, frozen=True, kw_only=True):
    """A page has been waiting on a network's rate limit for longer than the alert threshold
    (`RELAIS_THROTTLE_ALERT_MINUTES`): from `since` until at least `until` (UTC ISO), nothing is
    posted on it. Told once per wait; `post_id` names the delivery that found out."""

    network: str
    page: str
    since: str
    until: str
    error: ErrorReport | None = None


class DeliveryDeadLettered(Message, frozen=True, kw_only=True):
    """The dispatcher gave up on a delivery (retries exhausted, page to reconnect, or an outcome
    only a person can check): it waits at the hub for a retry or a decision."""

    network: str
    page: str
    status: str  # the delivery's status: failed, or unconfirmed
    attempts: int
    error: ErrorReport | None = None


DELIVERY_ACTIONS = ("retry", "mark_published")


class DeliveryActionRequested(Message, frozen=True, kw_only=True):
    """A person at the hub decided about a dead letter: `retry` it (after reconnecting its page,
    or having checked that an unconfirmed post is not there), or `mark_published` (it is there)."""

    network: str
    page: str
    action: str  # one of DELIVERY_ACTIONS
    requested_by: str


class AccessDenied(Message, frozen=True, kw_only=True):
    """Someone was refused (401, 403) at an agency node: the hub audits it."""

    actor: str
    role: str
    method: str
    path: str
    reason: str
    # Added with the deny-by-default check (defaults: what older nodes' records meant).
    status: int = 403
    code: str = ""
    route: str = ""
    remote: str = ""
    token_id: str = ""  # the id of the token refused, never the token
    capped: bool = False  # the first refusal over the address's budget; the next ones are dropped


INBOX_KINDS = ("comment", "reply", "mention", "message")


class InboxItemReceived(Message, frozen=True, kw_only=True):
    """Something a person sent to one of the federation's pages (issue #15): a comment, a reply, a
    mention or a private message, as the network gave it, with personal identifiers already masked
    (`shared.personal_data`) by whoever publishes it: nothing unmasked ever reaches the bus.

    Its key is (`network`, `item_id`), the network's own id: the same item polled twice, or pushed
    by a webhook and polled, is one item (`inbox_msg_id` is the JetStream de-duplication id, and
    every store keys on it too). `post_id` is the Relais post it answers when there is one, else "".
    """

    network: str
    page: str
    item_id: str
    conversation: str  # conversation_key(network, root_id): the thread (or the private chat) it belongs to
    root_id: str  # the network's id of the thread's first item (our post, or the first message)
    parent_id: str | None = None  # the item it answers directly, when the network says
    kind: str  # one of INBOX_KINDS
    author_name: str = ""
    author_id: str = ""
    text: str  # masked
    masked: list[str] = []  # the kinds of identifiers masked in `text` (`shared.personal_data` kinds)
    created_at: str  # ISO-8601 UTC, as the network dated it
    remote_post_id: str | None = None  # our published post's network id, when the item answers one
    url: str | None = None
    via: str  # "poll" or "webhook"


class InboxAssigned(Message, frozen=True, kw_only=True):
    """An agency node gave a conversation to one of its advisors, or back to its shared queue
    (`assignee` ""). Written at the node, offline if need be, and relayed like a post."""

    conversation: str
    network: str
    page: str
    assignee: str  # the advisor's user id, or "" for the agency's shared queue
    by: str  # who assigned it (user id)


ESCALATION_LEVELS = ("region", "hub")


class InboxEscalated(Message, frozen=True, kw_only=True):
    """A conversation still unanswered at a configured fraction of its deadline: the hub hands it to
    the region's moderators (`region`), then to the hub team (`hub`). The agency hears it too."""

    conversation: str
    network: str
    page: str
    level: str  # one of ESCALATION_LEVELS
    deadline: str  # ISO-8601 with the calendar zone's offset (`shared.business_hours`)
    calendar: str


class InboxHideRequested(Message, frozen=True, kw_only=True):
    """An agency node asks to hide one item of its conversation on the network (a comment showing a
    citizen's identifiers, #15 item 5). Only the hub decides: it checks the item is the agency's and
    the network hides comments (`hide_comments` capability), audits, and orders it
    (`InboxHideOrdered`). Written at the node, offline if need be, and relayed like an assignment."""

    conversation: str
    network: str
    page: str
    item_id: str
    by: str  # who asked (user id)


class InboxHideOrdered(Message, frozen=True, kw_only=True):
    """The hub orders the dispatcher to hide one item (asked by a node, or by a moderator at the
    hub). The dispatcher hides it exactly once (`hide_msg_id`) with the network's moderation API."""

    conversation: str
    network: str
    page: str
    item_id: str
    by: str  # who asked (user id), for the audit


HIDE_OUTCOMES = ("hidden", "failed")


class InboxItemHidden(Message, frozen=True, kw_only=True):
    """What the dispatcher did with an `InboxHideOrdered`: `hidden`, or `failed` with the reason."""

    conversation: str
    network: str
    page: str
    item_id: str
    outcome: str  # one of HIDE_OUTCOMES
    error: ErrorReport | None = None


class AdvocateEnrolled(Message, frozen=True, kw_only=True):
    """An advisor opted in at her node (#16 item 2): the consent as it was given. `user` is the only
    field anywhere on the bus that links the pseudonym to a person: the hub keeps it in its link
    table alone (never in the audit), and `relais advocates forget` purges these subjects from the
    stream. `post_id` is "" (as for every advocacy event)."""

    advocate: str
    user: str
    consented_at: str  # ISO-8601 UTC
    consent_version: str  # shared.advocacy.accounts.CONSENT_VERSION when it was given
    consent_language: str  # the language the wording was shown in (fr, ar, en)
    consent_text: str  # the exact wording shown


class AdvocateOptedOut(Message, frozen=True, kw_only=True):
    """The advocate withdrew her consent: every account of hers is disconnected, her credentials
    deleted, and nothing more is shared in her name (shares not yet published are not sent)."""

    advocate: str


class AdvocateConnected(Message, frozen=True, kw_only=True):
    """A personal account connected: by the hub's OAuth callback (`connected`: X, LinkedIn, Mastodon)
    or by the node for a Bluesky app password (`app_password`, which a node may publish and the
    dispatcher takes for Bluesky only). `sealed_credentials` opens with the dispatcher's key alone
    (purpose `credentials_purpose(advocate, network)`); nothing else here is secret."""

    advocate: str
    network: str
    account_id: str  # the network's id of the account (X user id, LinkedIn person id, a DID…)
    handle: str  # how it is shown (@name, name@instance, name.bsky.social)
    instance: str | None = None  # Mastodon's instance, Bluesky's PDS (https://…); None elsewhere
    sealed_credentials: str
    expires_at: str | None = None  # when the access token expires (UTC ISO), where it does


class AdvocateDisconnected(Message, frozen=True, kw_only=True):
    """The advocate disconnected one account: its credentials are deleted and its page retired."""

    advocate: str
    network: str


class AdvocateAccountStatus(Message, frozen=True, kw_only=True):
    """What became of one advocate's account (ACCOUNT_STATUSES), for the hub and her node."""

    advocate: str
    network: str
    status: str
    error: ErrorReport | None = None


class AdvocateForgotten(Message, frozen=True, kw_only=True):
    """`relais advocates forget`: the pseudonym no longer leads to anyone. Every service erases what
    it holds of the advocate (credentials, pages, consent, the person's name); the audit keeps the
    pseudonym's history, which no longer names anyone."""

    advocate: str
    by: str


ADVOCACY_EVENTS = (
    "enrolled",
    "opted_out",
    "connected",
    "app_password",
    "disconnected",
    "status",
    "forgotten",
)


ENGAGEMENT_AGES: Mapping[str, int] = MappingProxyType({"1h": 3600, "24h": 86_400, "7d": 604_800})
"""The ages (seconds after publication) at which the dispatcher reads a delivery's figures back."""


class EngagementMeasured(Message, frozen=True, kw_only=True):
    """One published delivery's figures, as its network gave them at one of `ENGAGEMENT_AGES` (#15
    item 6). A figure the network does not give is None, never 0. Keyed by (post, page, age):
    `engagement_msg_id`."""

    network: str
    page: str
    remote_id: str  # the delivery's (first part's) id on the network
    age: str  # one of ENGAGEMENT_AGES
    measured_at: str  # ISO-8601 UTC
    likes: int | None = None  # likes, favourites, reactions
    shares: int | None = None  # shares, reposts, boosts, retweets
    replies: int | None = None  # comments and replies
    views: int | None = None  # impressions or views, where the network gives them


def engagement_subject(agency: str, post_id: str, age: str) -> str:
    return f"engagement.{agency}.{post_id}.{age}"


def engagement_msg_id(post_id: str, page: str, age: str) -> str:
    return f"engagement:{post_id}:{page}:{age}"


def conversation_key(network: str, root_id: str) -> str:
    """A conversation's id, usable as a NATS subject token whatever the network's ids contain
    (Bluesky's are `at://` URIs with dots and slashes)."""
    digest = hashlib.sha256(f"{network}\0{root_id}".encode()).hexdigest()[:24]
    return f"{network}-{digest}"


def inbox_msg_id(network: str, item_id: str) -> str:
    return f"inbox:{network}:{item_id}"


def inbox_subject(agency: str, conversation: str, event: str) -> str:
    return f"inbox.{agency}.{conversation}.{event}"


def security_subject(agency: str, event_id: str) -> str:
    return f"security.{agency}.{event_id}"


@dataclass(frozen=True)
class MessageSpec:
    type: type[Message]
    subject: str  # pattern, with <placeholders>
    stream: str
    producer: str
    consumers: tuple[str, ...]


MESSAGES: tuple[MessageSpec, ...] = (
    MessageSpec(PostReceived, "posts.<agency>.<post_id>", "POSTS", "intake, hub", ("federation", "hub")),
    MessageSpec(PostTargeted, "targets.<agency>.<post_id>", "TARGETS", "federation", ("formatter", "hub")),
    MessageSpec(
        PostAnnounced, "decisions.<agency>.<post_id>.announced", "DECISIONS", "federation", ("hub", "intake")
    ),
    MessageSpec(PostRendered, "variants.<agency>.<post_id>.rendered", "VARIANTS", "formatter", ("hub",)),
    MessageSpec(
        PostInvalid,
        "variants.<agency>.<post_id>.invalid",
        "VARIANTS",
        "formatter, federation",
        ("hub", "intake"),
    ),
    MessageSpec(PostQueued, "decisions.<agency>.<post_id>.queued", "DECISIONS", "hub", ("hub", "intake")),
    MessageSpec(
        PostApproved, "decisions.<agency>.<post_id>.approved", "DECISIONS", "hub", ("dispatcher", "intake")
    ),
    MessageSpec(PostRejected, "decisions.<agency>.<post_id>.rejected", "DECISIONS", "hub", ("intake",)),
    MessageSpec(PostEdited, "decisions.<agency>.<post_id>.edited", "DECISIONS", "hub", ("intake",)),
    MessageSpec(PostScheduled, "decisions.<agency>.<post_id>.scheduled", "DECISIONS", "hub", ("intake",)),
    MessageSpec(PostExpired, "decisions.<agency>.<post_id>.expired", "DECISIONS", "hub", ("intake",)),
    MessageSpec(
        DeliveryUpdated,
        "deliveries.<agency>.<post_id>.<status>",
        "DELIVERIES",
        "dispatcher",
        ("hub", "intake"),
    ),
    MessageSpec(PageNeedsReauth, "alerts.<agency>.<post_id>.needs_reauth", "ALERTS", "dispatcher", ("hub",)),
    MessageSpec(PageThrottled, "alerts.<agency>.<post_id>.throttled", "ALERTS", "dispatcher", ("hub",)),
    MessageSpec(
        DeliveryDeadLettered, "alerts.<agency>.<post_id>.dead_letter", "ALERTS", "dispatcher", ("hub",)
    ),
    MessageSpec(
        DeliveryActionRequested, "commands.<agency>.<post_id>.<action>", "COMMANDS", "hub", ("dispatcher",)
    ),
    MessageSpec(AccessDenied, "security.<agency>.<event_id>", "SECURITY", "intake", ("hub",)),
    MessageSpec(
        InboxItemReceived,
        "inbox.<agency>.<conversation>.received",
        "INBOX",
        "dispatcher (polling), hub (webhooks)",
        ("hub", "intake"),
    ),
    MessageSpec(InboxAssigned, "inbox.<agency>.<conversation>.assigned", "INBOX", "intake", ("hub",)),
    MessageSpec(InboxEscalated, "inbox.<agency>.<conversation>.escalated", "INBOX", "hub", ("intake",)),
    MessageSpec(
        InboxHideRequested, "inbox.<agency>.<conversation>.hide_requested", "INBOX", "intake", ("hub",)
    ),
    MessageSpec(InboxHideOrdered, "inbox.<agency>.<conversation>.hide", "INBOX", "hub", ("dispatcher",)),
    MessageSpec(
        InboxItemHidden, "inbox.<agency>.<conversation>.hidden", "INBOX", "dispatcher", ("hub", "intake")
    ),
    MessageSpec(
        EngagementMeasured, "engagement.<agency>.<post_id>.<age>", "ENGAGEMENT", "dispatcher", ("hub",)
    ),
    MessageSpec(AdvocateEnrolled, "advocacy.<agency>.<advocate>.enrolled", "ADVOCACY", "intake", ("hub",)),
    MessageSpec(
        AdvocateOptedOut,
        "advocacy.<agency>.<advocate>.opted_out",
        "ADVOCACY",
        "intake",
        ("hub", "dispatcher", "federation"),
    ),
    MessageSpec(
        AdvocateConnected,
        "advocacy.<agency>.<advocate>.connected",
        "ADVOCACY",
        "hub",
        ("dispatcher", "federation", "hub", "intake"),
    ),
    MessageSpec(
        AdvocateConnected,
        "advocacy.<agency>.<advocate>.app_password",
        "ADVOCACY",
        "intake",
        ("dispatcher", "federation", "hub"),
    ),
    MessageSpec(
        AdvocateDisconnected,
        "advocacy.<agency>.<advocate>.disconnected",
        "ADVOCACY",
        "intake",
        ("hub", "dispatcher", "federation"),
    ),
    MessageSpec(
        AdvocateAccountStatus,
        "advocacy.<agency>.<advocate>.status",
        "ADVOCACY",
        "dispatcher, hub",
        ("hub", "intake"),
    ),
    MessageSpec(
        AdvocateForgotten,
        "advocacy.<agency>.<advocate>.forgotten",
        "ADVOCACY",
        "hub",
        ("dispatcher", "federation", "intake"),
    ),
)

# Stream name -> subjects it captures. Anything that must not be lost travels on these.
STREAMS: dict[str, list[str]] = {
    "POSTS": ["posts.*.*"],
    "TARGETS": ["targets.*.*"],
    "VARIANTS": ["variants.*.*.*"],
    "DECISIONS": ["decisions.*.*.*"],
    "DELIVERIES": ["deliveries.*.*.*"],
    "SECURITY": ["security.*.*"],
    "ALERTS": ["alerts.*.*.*"],
    "COMMANDS": ["commands.*.*.*"],
    "INBOX": ["inbox.*.*.*"],
    "ENGAGEMENT": ["engagement.*.*.*"],
    "ADVOCACY": ["advocacy.*.*.*"],
}


def posts_subject(agency: str, post_id: str) -> str:
    return f"posts.{agency}.{post_id}"


def targets_subject(agency: str, post_id: str) -> str:
    return f"targets.{agency}.{post_id}"


def variants_subject(agency: str, post_id: str, outcome: str) -> str:
    return f"variants.{agency}.{post_id}.{outcome}"


def decisions_subject(agency: str, post_id: str, decision: str) -> str:
    return f"decisions.{agency}.{post_id}.{decision}"


def deliveries_subject(agency: str, post_id: str, status: str) -> str:
    return f"deliveries.{agency}.{post_id}.{status}"


def alerts_subject(agency: str, post_id: str, kind: str) -> str:
    return f"alerts.{agency}.{post_id}.{kind}"


def commands_subject(agency: str, post_id: str, action: str) -> str:
    return f"commands.{agency}.{post_id}.{action}"


_TYPE_BY_PREFIX_AND_SUFFIX: dict[tuple[str, str | None], type[Message]] = {
    ("posts", None): PostReceived,
    ("security", None): AccessDenied,
    ("targets", None): PostTargeted,
    ("decisions", "announced"): PostAnnounced,
    ("decisions", "queued"): PostQueued,
    ("decisions", "scheduled"): PostScheduled,
    ("decisions", "edited"): PostEdited,
    ("decisions", "expired"): PostExpired,
    ("variants", "rendered"): PostRendered,
    ("variants", "invalid"): PostInvalid,
    ("decisions", "approved"): PostApproved,
    ("decisions", "rejected"): PostRejected,
    ("deliveries", None): DeliveryUpdated,
    ("alerts", "needs_reauth"): PageNeedsReauth,
    ("alerts", "throttled"): PageThrottled,
    ("alerts", "dead_letter"): DeliveryDeadLettered,
    ("commands", None): DeliveryActionRequested,
    ("inbox", "received"): InboxItemReceived,
    ("inbox", "assigned"): InboxAssigned,
    ("inbox", "escalated"): InboxEscalated,
    ("inbox", "hide_requested"): InboxHideRequested,
    ("inbox", "hide"): InboxHideOrdered,
    ("inbox", "hidden"): InboxItemHidden,
    ("engagement", None): EngagementMeasured,
    ("advocacy", "enrolled"): AdvocateEnrolled,
    ("advocacy", "opted_out"): AdvocateOptedOut,
    ("advocacy", "connected"): AdvocateConnected,
    ("advocacy", "app_password"): AdvocateConnected,
    ("advocacy", "disconnected"): AdvocateDisconnected,
    ("advocacy", "status"): AdvocateAccountStatus,
    ("advocacy", "forgotten"): AdvocateForgotten,
}

M = TypeVar("M", bound=Message)
_encoder = msgspec.json.Encoder()


def encode(message: Message) -> bytes:
    return _encoder.encode(message)


def decode(data: bytes, type_: type[M]) -> M:
    return msgspec.json.decode(data, type=type_)


class UnknownSubject(msgspec.ValidationError):
    """A subject outside the contract: no message type to read it as, so, like a body that does not
    decode, it never will be read (a `msgspec.DecodeError`, which consumers treat as poison)."""


def type_for_subject(subject: str) -> type[Message]:
    """The message type a subject carries (raises `UnknownSubject` for a subject outside the contract)."""
    tokens = subject.split(".")
    prefix = tokens[0]
    if (prefix, None) in _TYPE_BY_PREFIX_AND_SUFFIX:
        return _TYPE_BY_PREFIX_AND_SUFFIX[(prefix, None)]
    try:
        return _TYPE_BY_PREFIX_AND_SUFFIX[(prefix, tokens[-1])]
    except KeyError:
        raise UnknownSubject(f"no message type for subject {subject!r}") from None


def decode_any(subject: str, data: bytes) -> Message:
    return msgspec.json.decode(data, type=type_for_subject(subject))


# The federation's page registry, replicated to every service through a JetStream key-value bucket.
PAGES_BUCKET = "pages"


DEFAULT_PAGE_CALENDAR = "fr-metropole"


class PageRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One network account of the federation, as services other than federation see it."""

    page: str
    network: str
    handle: str
    agency: str
    region: str
    department: str
    timezone: str
    credentials_ref: str
    status: str = "active"
    agency_name: str = ""
    city: str = ""
    region_name: str = ""
    local_url: str = ""
    # The business calendar that runs its inbox's SLA clock (`shared.business_hours` ids), as the
    # registry gives its agency or region; the default keeps records written before readable.
    calendar: str = DEFAULT_PAGE_CALENDAR
    # An advocate's personal account (#16): her pseudonym; "" for the federation's own pages. Selectors
    # and campaigns never reach a personal page, and only its owner's shares target it.
    owner: str = ""


# Revoked token ids, replicated to every agency node so that it refuses them even while offline.
REVOKED_BUCKET = "revoked_tokens"

# Core NATS (not persisted): an agency node says it is alive, so the hub knows its last contact.
HEARTBEAT_SUBJECTS = "agencies.*.heartbeat"


class AgencyHeartbeat(msgspec.Struct, frozen=True):
    agency: str
    sent_at: str
    outbox_pending: int


def heartbeat_subject(agency: str) -> str:
    return f"agencies.{agency}.heartbeat"


def page_key(agency: str, page: str) -> str:
    return f"{agency}.{page}"
