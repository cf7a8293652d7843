"""What the networks push, read into inbox items (pure: no I/O). The routes are in
services/hub/webhooks.py.

Only the fields read are declared; every other field of a network's payload is ignored, so a
network adding fields changes nothing. Sources: Meta's "Webhooks for Pages" (`feed` changes),
"Messenger Platform: webhook events" (`messages`), "Instagram webhooks" (`comments`), and the
Telegram Bot API's `Update` and `Message`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import msgspec

from shared.ids import utc_now
from shared.personal_data import mask
from shared.schemas import InboxItemReceived, PageRecord, conversation_key

__all__ = [
    "MetaNotification",
    "Pushed",
    "TelegramUpdate",
    "inbox_item",
    "meta_items",
    "telegram_items",
]


class MetaUser(msgspec.Struct):
    id: str = ""
    name: str = ""
    username: str = ""


class FeedChange(msgspec.Struct, rename={"author": "from"}):
    """`changes[].value` of a Page's `feed` field."""

    item: str = ""
    verb: str = ""
    comment_id: str = ""
    post_id: str = ""  # the Page post the comment is under
    parent_id: str = ""  # that post for a comment, the comment answered for a reply
    message: str = ""
    created_time: int | float | str | None = None
    author: MetaUser | None = None


class MetaChange(msgspec.Struct):
    field: str = ""
    value: msgspec.Raw = msgspec.Raw(b"null")


class MessengerReplyTo(msgspec.Struct):
    mid: str = ""


class MessengerMessage(msgspec.Struct):
    mid: str = ""
    text: str = ""
    is_echo: bool = False  # sent by the Page itself: not something to answer
    reply_to: MessengerReplyTo | None = None


class MessagingEvent(msgspec.Struct):
    sender: MetaUser | None = None
    timestamp: int | float = 0  # milliseconds
    message: MessengerMessage | None = None


class InstagramMedia(msgspec.Struct):
    id: str = ""


class InstagramComment(msgspec.Struct, rename={"author": "from"}):
    """`changes[].value` of an Instagram account's `comments` field."""

    id: str = ""
    text: str = ""
    parent_id: str = ""  # the comment answered, for a reply
    media: InstagramMedia | None = None  # our post it is under
    author: MetaUser | None = None


class MetaEntry(msgspec.Struct):
    id: str = ""  # the Page's (or Instagram account's) id: its `handle` in the registry
    time: int | float = 0  # seconds (milliseconds for Messenger)
    changes: list[MetaChange] = []
    messaging: list[MessagingEvent] = []


class MetaNotification(msgspec.Struct):
    object: str = ""
    entry: list[MetaEntry] = []


class TelegramUser(msgspec.Struct):
    id: int = 0
    first_name: str = ""
    last_name: str = ""
    username: str = ""


class TelegramChat(msgspec.Struct):
    id: int


class TelegramReplied(msgspec.Struct):
    message_id: int


class TelegramMessage(msgspec.Struct, rename={"author": "from"}):
    message_id: int
    chat: TelegramChat
    date: int = 0
    text: str = ""
    caption: str = ""  # a photo's or a document's words
    author: TelegramUser | None = None
    reply_to_message: TelegramReplied | None = None


class TelegramUpdate(msgspec.Struct):
    update_id: int
    message: TelegramMessage | None = None


# ---------------------------------------------------------------------------------------------
# Items


@dataclass(frozen=True)
class Pushed:
    """One item as a network pushed it, before masking; `page_ref` is how the network names the
    page (a Meta Page id, looked up among the registry's handles; a Relais page id for Telegram)."""

    network: str
    page_ref: str
    item_id: str
    root_id: str
    kind: str
    text: str
    created_at: str
    parent_id: str | None = None
    author_name: str = ""
    author_id: str = ""
    remote_post_id: str | None = None


def inbox_item(pushed: Pushed, page: PageRecord) -> InboxItemReceived:
    """The bus message: text (and the author's displayed name) masked before anything else sees it."""
    text = mask(pushed.text)
    return InboxItemReceived(
        post_id="",  # the Relais post it answers is found by the inbox from `remote_post_id`
        agency=page.agency,
        occurred_at=utc_now(),
        network=pushed.network,
        page=page.page,
        item_id=pushed.item_id,
        conversation=conversation_key(pushed.network, pushed.root_id),
        root_id=pushed.root_id,
        parent_id=pushed.parent_id,
        kind=pushed.kind,
        author_name=mask(pushed.author_name).text,
        author_id=pushed.author_id,
        text=text.text,
        masked=list(text.kinds),
        created_at=pushed.created_at,
        remote_post_id=pushed.remote_post_id,
        via="webhook",
    )


def iso_time(value: int | float | str | None, *, milliseconds: bool = False) -> str:
    """A network's date as ISO-8601 UTC; now when it gave none that reads as one."""
    if isinstance(value, int | float) and value > 0:
        seconds = value / 1000 if milliseconds else value
        return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return utc_now()
        if parsed.tzinfo is not None:
            return parsed.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return utc_now()


def meta_items(notification: MetaNotification) -> list[Pushed]:
    """The Page comments, Messenger messages and Instagram comments of one notification; everything
    else (reactions, edits, removals, the Page's own echoes…) is not an inbox item."""
    if notification.object == "instagram":
        return [
            item
            for entry in notification.entry
            for change in entry.changes
            if change.field == "comments"
            for item in _instagram_comment(entry, change.value)
        ]
    if notification.object != "page":
        return []
    found: list[Pushed] = []
    for entry in notification.entry:
        for change in entry.changes:
            if change.field == "feed":
                found += _feed_comment(entry.id, change.value)
        for event in entry.messaging:
            message = event.message
            if message is None or message.is_echo or not message.mid or event.sender is None:
                continue
            found.append(
                Pushed(
                    network="facebook",
                    page_ref=entry.id,
                    item_id=message.mid,
                    root_id=event.sender.id,  # one conversation per person (page-scoped id)
                    parent_id=message.reply_to.mid if message.reply_to and message.reply_to.mid else None,
                    kind="message",
                    text=message.text,
                    author_id=event.sender.id,
                    created_at=iso_time(event.timestamp, milliseconds=True),
                )
            )
    return found


def _feed_comment(page_id: str, raw: msgspec.Raw) -> list[Pushed]:
    try:
        value = msgspec.json.decode(raw, type=FeedChange)
    except msgspec.ValidationError:
        return []  # a feed change of another shape (a status, a photo…): not an inbox item
    if value.item != "comment" or value.verb != "add" or not value.comment_id or not value.post_id:
        return []
    author = value.author or MetaUser()
    if author.id == page_id:
        return []  # the Page's own comment (an agent's reply, posted as the Page): an answer, not a question
    reply = bool(value.parent_id) and value.parent_id != value.post_id
    return [
        Pushed(
            network="facebook",
            page_ref=page_id,
            item_id=value.comment_id,
            root_id=value.post_id,
            parent_id=value.parent_id or value.post_id,
            kind="reply" if reply else "comment",
            text=value.message,
            author_name=author.name,
            author_id=author.id,
            created_at=iso_time(value.created_time),
            remote_post_id=value.post_id,
        )
    ]


def _instagram_comment(entry: MetaEntry, raw: msgspec.Raw) -> list[Pushed]:
    try:
        value = msgspec.json.decode(raw, type=InstagramComment)
    except msgspec.ValidationError:
        return []
    if not value.id or value.media is None or not value.media.id:
        return []
    author = value.author or MetaUser()
    if author.id == entry.id:
        return []  # the account's own comment: an answer, not a question
    media = value.media.id
    return [
        Pushed(
            network="instagram",
            page_ref=entry.id,
            item_id=value.id,
            root_id=media,
            parent_id=value.parent_id or media,
            kind="reply" if value.parent_id else "comment",
            text=value.text,
            author_name=author.username,
            author_id=author.id,
            created_at=iso_time(entry.time),  # the comment carries no date of its own
            remote_post_id=media,
        )
    ]


def telegram_items(page: str, update: TelegramUpdate) -> list[Pushed]:
    message = update.message
    if message is None:
        return []  # edits, channel posts, callbacks…: not an inbox item
    chat = str(message.chat.id)
    author = message.author or TelegramUser()
    replied = message.reply_to_message
    return [
        Pushed(
            network="telegram",
            page_ref=page,
            item_id=f"{chat}:{message.message_id}",
            root_id=chat,
            parent_id=f"{chat}:{replied.message_id}" if replied else None,
            kind="message",
            text=message.text or message.caption,
            author_name=" ".join(part for part in (author.first_name, author.last_name) if part),
            author_id=str(author.id) if author.id else "",
            created_at=iso_time(message.date),
        )
    ]
