"""The interface every network's rules implement, and the render pipeline they share.

A network says how it measures text (`measure`, `unit`, `limit`), what it recognises as
links and tags (`extract`), which other limits and content rules apply (`other_limits`,
`check`) and how a chunk is encoded and annotated for sending (`encode`, `facets`). The
pipeline (normalise, measure, fit by policy, encode) is the same for all of them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from . import fitting
from .extract import extract_entities
from .model import Entity, Limit, Part, Policy, Rendering, RuleError
from .options import NetworkOptions
from .text import normalize

__all__ = ["MediaKind", "NetworkRules", "Request", "compose", "media_errors", "video_alone_errors"]

MediaKind = Literal["image", "video", "gif", "document"]


# What a post must carry that an answer to a person need not: a reply is a comment (text).
NOT_FOR_REPLIES = frozenset({"media_required"})


@dataclass(frozen=True, slots=True)
class Request:
    """One post to render: the normalised body (text plus link) and what comes with it."""

    body: str
    content_warning: str = ""
    media: tuple[MediaKind, ...] = ()
    mentions: Mapping[str, str] = field(default_factory=dict)
    title: str | None = None
    tags: tuple[str, ...] = ()
    captions: bool = False  # some video of the post carries caption files


def compose(text: str, link: str | None) -> str:
    """The body to send: the normalised text, then the link on its own line unless already there."""
    body = normalize(text)
    link = normalize(link) if link else ""
    if not link or link in body:
        return body
    return f"{body}\n{link}" if body else link


class NetworkRules(ABC):
    """Base class of a network's rules; subclasses set the class attributes and `measure`."""

    name: ClassVar[str]
    unit: ClassVar[str]
    can_thread: ClassVar[bool] = False
    default_policy: ClassVar[Policy] = "truncate"
    # What of a post besides its text and media the network's API takes: a network without titles
    # or tags ignores them, and the preview says so (`notices`).
    takes_title: ClassVar[bool] = False
    takes_tags: ClassVar[bool] = False
    takes_captions: ClassVar[bool] = False
    # What the network's reply adds to the text a person writes (Mastodon's mention of the author,
    # which the dispatcher puts first): a reply has that much less room.
    reply_room: ClassVar[int] = 0

    def __init__(self, options: NetworkOptions | None = None) -> None:
        self.options = options or NetworkOptions()

    @property
    @abstractmethod
    def limit(self) -> int:
        """The main limit, in `unit`."""

    @abstractmethod
    def measure(self, text: str) -> int:
        """Length of `text` in `unit`, as the network counts it."""

    def limit_for(self, request: Request) -> int:
        """The main limit for this post (Telegram's caption limit applies when media come along)."""
        return self.limit

    def extract(self, text: str) -> list[Entity]:
        """Links, hashtags and mentions as this network recognises them (default: twitter-text)."""
        return extract_entities(text)

    def measure_request(self, text: str, request: Request) -> int:
        """Length of one chunk of `request` (Mastodon adds the content warning)."""
        return self.measure(text)

    def other_limits(self, text: str, request: Request) -> list[Limit]:
        """Secondary limits that every chunk must also meet (bytes, links…)."""
        return []

    def check(self, request: Request) -> list[RuleError]:
        """Content rules no fitting can fix (media, hashtag caps, title)."""
        return []

    def derived_title(self, body: str) -> str | None:
        """The title sent when the post gives none (networks that require one derive it)."""
        return None

    def derived_tags(self, body: str) -> list[str]:
        """The tags sent when the post gives none."""
        return []

    def render_title(self, title: str, policy: Policy) -> tuple[str | None, list[RuleError]]:
        """The title as sent, or errors (YouTube)."""
        return title, []

    def render_tags(self, tags: Sequence[str]) -> tuple[list[str], list[RuleError]]:
        """The tags as sent, or errors (over the network's count or length)."""
        return list(tags), []

    def notices(self, request: Request) -> list[RuleError]:
        """What of the post this network does not send (no error: the post goes without it)."""
        ignored = []
        if request.title is not None and not self.takes_title:
            ignored.append(RuleError("title_not_sent", f"{self.name}: has no title; the title is not sent"))
        if request.tags and not self.takes_tags:
            ignored.append(RuleError("tags_not_sent", f"{self.name}: has no tags; the tags are not sent"))
        if request.captions and not self.takes_captions:
            message = f"{self.name}: takes no caption files; the video goes without its captions"
            ignored.append(RuleError("captions_not_sent", message))
        return ignored

    def encode(self, text: str) -> str:
        """The chunk as sent (escaping, replaced characters); identity for plain text."""
        return text

    def facets(self, sent: str, request: Request) -> list[dict[str, object]] | None:
        """Rich-text annotations of a sent chunk (Bluesky facets, Telegram entities)."""
        return None

    def render(
        self,
        text: str,
        *,
        link: str | None = None,
        policy: Policy | None = None,
        content_warning: str | None = None,
        media: Sequence[MediaKind] = (),
        mentions: Mapping[str, str] | None = None,
        title: str | None = None,
        tags: Sequence[str] = (),
        captions: bool = False,
        reply: bool = False,
    ) -> Rendering:
        """Render one post for this network: measure it, fit it by `policy`, encode each part.

        `title` and `tags` are sent where the network takes them (derived from the text where it
        needs them and none are given); `captions` says a video carries caption files. A `reply`
        (an answer to a person, issue #15) is a comment: it needs no media (`NOT_FOR_REPLIES`) and
        has no title or tags."""
        request = Request(
            body=compose(text, link),
            content_warning=normalize(content_warning or ""),
            media=tuple(media),
            mentions=dict(mentions or {}),
            title=normalize(title) if title is not None else None,
            tags=tuple(normalize(tag) for tag in tags),
            captions=captions,
        )
        body = request.body
        length = self.measure_request(body, request)
        others = self.other_limits(body, request)
        limit = self.limit_for(request) - (self.reply_room if reply else 0)
        fits = length <= limit and all(other.fits for other in others)
        errors = [e for e in self.check(request) if not (reply and e.code in NOT_FOR_REPLIES)]
        if not body and not request.media:
            errors.append(RuleError("empty", f"{self.name}: nothing to post"))
        chosen = policy or self.default_policy
        if chosen == "thread" and not self.can_thread:
            chosen = "truncate"  # a network without threads still gets the post, shortened
        title, tags = (None, []) if reply else self._title_and_tags(request, chosen, errors)
        fitted = fitting.Fitted([body])
        if not fits:
            fitted = self._fit(body, request, chosen, length, others, limit)
            if fitted.error:
                why = (
                    f" ({limit + self.reply_room} less {self.reply_room} for the mention a reply starts with)"
                )
                said = fitted.error + (why if reply and self.reply_room else "")
                errors.append(RuleError(_error_code(chosen), f"{self.name}: {said}"))
        errors.extend(self._too_many_parts(len(fitted.chunks)))
        parts = [] if errors else [self._part(chunk, request) for chunk in fitted.chunks]
        return Rendering(
            network=self.name,
            unit=self.unit,
            limit=limit,
            length=length,
            fits=fits,
            parts=parts,
            errors=errors,
            other_limits=others,
            policy=None if fits else chosen,
            content_warning=request.content_warning or None,
            title=title,
            tags=tags,
            notices=self.notices(request),
        )

    def _title_and_tags(
        self, request: Request, policy: Policy, errors: list[RuleError]
    ) -> tuple[str | None, list[str]]:
        """The title and tags as sent (None and none where the network takes none); their errors
        are added to `errors`."""
        title: str | None = None
        if self.takes_title:
            title = request.title if request.title is not None else self.derived_title(request.body)
            if title is not None:
                title, title_errors = self.render_title(title, policy)
                errors.extend(title_errors)
        tags: list[str] = []
        if self.takes_tags:
            tags, tag_errors = self.render_tags(request.tags or self.derived_tags(request.body))
            errors.extend(tag_errors)
        return title, tags

    def fits(self, chunk: str, request: Request) -> bool:
        """Whether one chunk meets the main limit and every other limit."""
        if self.measure_request(chunk, request) > self.limit_for(request):
            return False
        return all(other.fits for other in self.other_limits(chunk, request))

    def _fit(
        self, body: str, request: Request, policy: Policy, length: int, others: list[Limit], limit: int
    ) -> fitting.Fitted:
        if policy == "reject":
            over = [f"{length} {self.unit} over the limit of {limit}"] if length > limit else []
            over += [f"{o.length} {o.unit} over the limit of {o.limit}" for o in others if not o.fits]
            return fitting.Fitted([], error="; ".join(over))

        def fits(chunk: str) -> bool:
            return self.fits(chunk, request)

        protected = self.extract(body)
        if policy == "thread":
            return fitting.thread(body, fits, protected, self.options.thread_numbering)
        return fitting.truncate(body, fits, protected)

    def _too_many_parts(self, count: int) -> list[RuleError]:
        """The one rule on a thread's length, shared by intake, the preview and the formatter."""
        most = self.options.max_thread_parts
        if count <= most:
            return []
        message = f"{self.name}: the text needs {count} parts, more than the limit of {most} parts"
        return [RuleError("too_many_parts", message)]

    def _part(self, chunk: str, request: Request) -> Part:
        sent = self.encode(chunk)
        return Part(sent, self.measure_request(chunk, request), self.facets(sent, request))


def _error_code(policy: Policy) -> str:
    return "too_long" if policy == "reject" else "cannot_fit"


def media_errors(
    network: str, media: Sequence[MediaKind], *, images: int, videos: int = 1
) -> list[RuleError]:
    """Errors for more images or videos than `network` takes in one post (GIFs count as videos).

    Documents are not counted here: the networks that take them say how many (`media.py` refuses
    their type for every other network)."""
    n_images = sum(1 for kind in media if kind == "image")
    n_videos = sum(1 for kind in media if kind in ("video", "gif"))
    errors = []
    if n_images > images:
        errors.append(RuleError("too_many_media", f"{network}: {n_images} images, at most {images}"))
    if n_videos > videos or (n_videos and n_images and videos == 1 and network in _NO_MIXING):
        errors.append(RuleError("too_many_media", f"{network}: at most {videos} video or GIF, not mixed"))
    return errors


def video_alone_errors(network: str, media: Sequence[MediaKind]) -> list[RuleError]:
    """An error where a video shares its post (GIFs aside: Facebook and LinkedIn post them as images)."""
    if "video" in media and len(media) > 1:
        return [RuleError("too_many_media", f"{network}: a video is a post's only attachment")]
    return []


# Networks where a video or GIF cannot share a post with images (Mastodon: PostStatusService's
# "images_and_video" validation).
_NO_MIXING = frozenset({"x", "bluesky", "mastodon"})
