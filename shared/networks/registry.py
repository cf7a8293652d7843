"""Every network Relais posts to, as one registered unit keyed by its name.

A `Network` holds the pure facts every layer shares: its rules (`shared/networks/<name>.py`), the
rate limits the dispatcher starts from, the media it takes and what it can do (`capabilities`).
Each service keeps its own per-layer registration (the dispatcher's adapters, the sandbox's
emulators) and checks it against `NETWORKS`; no service imports another. Adding a network is one
entry here, one per layer, and the rows the completeness test asks for (tests/test_networks_complete.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from .base import NetworkRules
from .bluesky import BlueskyRules
from .facebook import FacebookRules
from .facts import DOCUMENT_TYPES, Capability, MediaLimits, RateLimits, UnitQuota
from .instagram import InstagramRules
from .linkedin import LinkedInRules
from .mastodon import MastodonRules
from .slideshare import SlideShareRules
from .telegram import TelegramRules
from .threads import ThreadsRules
from .x import XRules
from .youtube import YouTubeRules

__all__ = ["NETWORKS", "Network", "check_layer", "network"]


@dataclass(frozen=True, slots=True)
class Network:
    """One network's facts: `name` is its key everywhere (pages, variants, settings, metrics)."""

    name: str
    title: str  # as people write it: "X", "LinkedIn"…
    rules: type[NetworkRules]
    rate_limits: RateLimits
    media: MediaLimits
    capabilities: frozenset[Capability]
    # Reads of people's comments allowed for the whole app (count, seconds), where they spend a budget
    # the posts share (YouTube's daily quota): it spreads them over the day; None where reads have
    # windows of their own.
    read_budget: tuple[int, float] | None = None
    # An app-wide quota in units that every kind of call spends at its own cost (YouTube's); None where
    # the network counts calls (`rate_limits`).
    quota: UnitQuota | None = None


_MB = 1_000_000  # networks say "5 MB"; the decimal reading is the stricter one
_MIB = 1024 * 1024
_POSTS_WITH_IMAGES = frozenset[Capability]({"publish", "images", "read_back"})
_POSTS_WITH_VIDEOS = _POSTS_WITH_IMAGES | frozenset[Capability]({"video"})
_READING_COMMENTS = _POSTS_WITH_VIDEOS | frozenset[Capability]({"read_comments"})
_REPLIES = frozenset[Capability]({"reply"})  # answers people's comments or messages (#15)
_HIDES = frozenset[Capability]({"hide_comments"})  # hides a comment from the public (#15 item 5)
_ENGAGEMENT = frozenset[Capability]({"read_engagement"})  # reads a post's figures back (#15)
# Posts as an advocate's own account (#16): user tokens (X, LinkedIn members, Mastodon) or app passwords.
_PERSONAL = frozenset[Capability]({"personal_accounts"})

# developers.google.com/youtube/v3/determine_quota_cost ("Quota calculator"): 10,000 units a day per
# project, reset at midnight Pacific time; videos.insert 1,600 (the page now also says uploads have a
# bucket of their own of 100 calls a day: the table's 1,600 from the shared 10,000 is the stricter
# reading, kept until a project is known to have the new bucket), comments.insert 50,
# comments.setModerationStatus 50, commentThreads.list / comments.list / videos.list 1 a page.
# The split (floors: what a call must leave in the day's quota): an upload may take the quota down to 100
# (headroom for the calls no budget prices ahead: a read's second page, a channel or read-back lookup);
# a reply or a hide down to 3,300, so that two uploads (3,200) always remain however many people are
# answered; a read down to 4,800, so that 30 replies or hides (1,500) always remain however much is read.
# So 134 replies a day when nothing else is spent, 6 uploads when nothing is answered.
_YOUTUBE_QUOTA = UnitQuota(
    10_000,
    costs=MappingProxyType({"post": 1_600, "reply": 50, "hide": 50, "read": 1}),
    floors=MappingProxyType({"post": 100, "reply": 3_300, "hide": 3_300, "read": 4_800}),
    resets_in="America/Los_Angeles",
)

NETWORKS: Mapping[str, Network] = MappingProxyType(
    {
        entry.name: entry
        for entry in (
            Network(
                "x",
                "X",
                XRules,
                # docs.x.com "Rate limits": POST /2/tweets 100 per 15 min per user, 10,000 per 24 h per app.
                RateLimits((100, 900.0), (10_000, 86_400.0)),
                # Image 5 MB (P); alt text up to 1,000 characters.
                MediaLimits(max_bytes={"image": 5 * _MB}, max_alt=1000),
                # "User mention timeline": mentions and replies read with `since_id` (the inbox, #15);
                # answered with the posting API's reply fields (#15); "Post lookup" with
                # `public_metrics` gives likes, retweets + quotes, replies and impressions.
                _READING_COMMENTS | _REPLIES | _ENGAGEMENT | _PERSONAL,
            ),
            Network(
                "mastodon",
                "Mastodon",
                MastodonRules,
                # docs.joinmastodon.org "Rate limits": 300 calls per 5 minutes per account.
                RateLimits((300, 300.0)),
                # IMAGE_LIMIT 16 MiB and VIDEO_LIMIT 99 MiB (MediaAttachment), description ≤ 1,500.
                MediaLimits(
                    max_bytes={"image": 16 * _MIB, "gif": 16 * _MIB, "video": 99 * _MIB}, max_alt=1500
                ),
                # Methods › notifications: mentions and replies read with `min_id` (the inbox, #15);
                # answered with the posting API's reply fields (#15); "View a single status" gives
                # favourites, boosts and replies (no views).
                _READING_COMMENTS | _REPLIES | _ENGAGEMENT | _PERSONAL,
            ),
            Network(
                "bluesky",
                "Bluesky",
                BlueskyRules,
                # docs.bsky.app "Rate limits": 5,000 points an hour per account, a created record costs 3.
                RateLimits((1_666, 3_600.0)),
                # app.bsky.embed.images blobs ≤ 2,000,000 bytes (P); app.bsky.embed.video: one MP4 of
                # ≤ 300,000,000 bytes, alone, through the video service.
                MediaLimits(max_bytes={"image": 2_000_000, "gif": 2_000_000, "video": 300_000_000}),
                # app.bsky.notification.listNotifications: mentions and replies (the inbox, #15);
                # answered with the posting API's reply fields (#15); app.bsky.feed.getPosts gives
                # likes, reposts + quotes and replies (no views).
                _READING_COMMENTS | _REPLIES | _ENGAGEMENT | _PERSONAL,
            ),
            Network(
                "linkedin",
                "LinkedIn",
                LinkedInRules,
                # Microsoft Learn (LinkedIn) "Rate limits": daily per member and per application.
                RateLimits((150, 86_400.0), (100_000, 86_400.0)),
                # Images API: JPG, GIF, PNG (P); Videos API: MP4 up to 500 MB, alone in its post.
                MediaLimits(
                    types=frozenset({"image/jpeg", "image/png", "image/gif", "video/mp4"}),
                    max_bytes={"video": 500 * _MB},
                ),
                # Comments API › Get Comments on Shares, post by post (the inbox, #15); Create a
                # Nested Comment answers them. Social Actions and Organization Share Statistics: figures.
                _READING_COMMENTS | _REPLIES | _ENGAGEMENT | _PERSONAL,
            ),
            Network(
                "facebook",
                "Facebook",
                FacebookRules,
                # Graph API "Rate limits": Page-token calls per 24 h, app calls per hour.
                RateLimits((4_800, 86_400.0), (20_000, 3_600.0)),
                # Page photos: JPEG, PNG, GIF (Page › Photos); Page videos: MP4 by the resumable
                # upload (Video API › Publishing), alone in their post; no size cap taken from it.
                MediaLimits(types=frozenset({"image/jpeg", "image/png", "image/gif", "video/mp4"})),
                # Comments › Publishing (comment replies); Messenger's Send API within 24 hours;
                # Comment › Updating (`is_hidden`) hides a comment.
                # The Post's reactions/comments summaries and shares, Page Insights' views: figures.
                _POSTS_WITH_VIDEOS | _REPLIES | _HIDES | _ENGAGEMENT,
            ),
            Network(
                "instagram",
                "Instagram",
                InstagramRules,
                # "IG User Media Publish": 50 API-published posts per 24-hour moving period.
                RateLimits((50, 86_400.0)),
                # JPEG images and MP4 videos only (IG User Media reference, P).
                MediaLimits(types=frozenset({"image/jpeg", "video/mp4"})),
                # IG Comment › Replies: answers to people's comments (#15); › Updating (`hide`). IG Media
                # counts and Instagram Media Insights: figures.
                _POSTS_WITH_VIDEOS | _REPLIES | _HIDES | _ENGAGEMENT,
            ),
            Network(
                "threads",
                "Threads",
                ThreadsRules,
                # Threads API "Rate Limiting": 250 API-published posts per 24 hours per profile.
                RateLimits((250, 86_400.0)),
                # JPEG and PNG images, MP4 videos (Posts › media specifications, P).
                MediaLimits(types=frozenset({"image/jpeg", "image/png", "video/mp4"})),
                _POSTS_WITH_VIDEOS | _ENGAGEMENT,  # Insights API › Media Insights: figures
            ),
            Network(
                "telegram",
                "Telegram",
                TelegramRules,
                # Bots FAQ: about 20 messages a minute in one channel, 30 a second for a bot overall.
                RateLimits((20, 60.0), (30, 1.0)),
                # Bot API: photos ≤ 10 MB, other uploads ≤ 50 MB (P).
                MediaLimits(max_bytes={"image": 10 * _MB, "gif": 50 * _MB, "video": 50 * _MB}),
                # A bot cannot read a channel's history back: an unknown outcome waits for a person.
                # It answers people's private messages (sendMessage with reply_parameters, #15).
                frozenset[Capability]({"publish", "images", "video", "reply"}),
            ),
            Network(
                "youtube",
                "YouTube",
                YouTubeRules,
                # No window of calls: every call spends units of the daily quota (`quota` below).
                RateLimits(None),
                # One video and nothing else.
                MediaLimits(types=frozenset({"video/mp4"})),
                # CommentThreads: list and Comments: list: comments and replies (the inbox, #15);
                # Comments: insert answers them; Comments: setModerationStatus hides one (heldForReview);
                # Videos: list (statistics) reads figures.
                frozenset[Capability]({"publish", "video", "read_back", "read_comments", "reply"})
                | _HIDES
                | _ENGAGEMENT,
                # Reads spread over the day: at most 200 an hour (4,800 units a day at the most).
                read_budget=(200, 3_600.0),
                quota=_YOUTUBE_QUOTA,
            ),
            Network(
                "slideshare",
                "SlideShare",
                SlideShareRules,
                # API v2 documents no rate limit (U); uploads are slow conversions, so a cautious
                # 20 uploads an hour per account and 1,000 calls an hour for the app's key.
                RateLimits((20, 3_600.0), (1_000, 3_600.0)),
                # upload_slideshow takes ppt, pps, pptx, odp, pdf… (U: no size documented for v2).
                MediaLimits(types=DOCUMENT_TYPES, max_bytes={"document": 100 * _MB}),
                # "Get Slideshow" with `detailed=1`: views, favorites and comments (no shares).
                frozenset[Capability]({"publish", "documents", "read_back"}) | _ENGAGEMENT,
            ),
        )
    }
)
"""The networks Relais posts to, in the order people see them (dashboard colours, listings)."""


def network(name: str) -> Network:
    """The registered network called `name` (raises `KeyError` for any other name)."""
    return NETWORKS[name]


def check_layer(layer: str, registered: Mapping[str, object]) -> None:
    """Refuse a layer's registration that does not name exactly the registered networks.

    Each service calls it once for its own map (adapters, emulators), at import: a network
    half-added (its facts without its adapter, or an adapter for no network) stops the service
    from starting, with both lists named, instead of failing on the first post to it.
    """
    missing = sorted(set(NETWORKS) - set(registered))
    unknown = sorted(set(registered) - set(NETWORKS))
    if missing or unknown:
        raise RuntimeError(
            f"{layer}: no entry for {missing or 'none'}; entries for unregistered {unknown or 'none'}"
        )
