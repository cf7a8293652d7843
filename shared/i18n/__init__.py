"""The words people read, in French (the default), Arabic (right to left) and English. Pure.

Catalogs are the gettext `.po` files under `locale/<lang>/LC_MESSAGES/messages.po`, read with Babel
at first use (no compile step: a clean checkout works as it is). The language is the person's
choice only: `?lang=` or the language cookie, never the browser's `Accept-Language`, and anything
that is not one of `LOCALES` exactly is French. Every time shown is in one zone, Paris (`ZONE`),
and the pages say so.

Msgids are English; a status or an API error code is translated from its key under a context
(`pgettext("status", "awaiting_approval")`), so the same keys serve every language. `C_` marks such
a key for Babel's extractor where no call translates it literally.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import date, datetime, timedelta, tzinfo
from functools import cache
from importlib.resources import files
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_skeleton, format_time
from babel.lists import format_list
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations
from babel.units import format_unit

__all__ = [
    "ADVOCACY_STATUSES",
    "C_",
    "DECISIONS",
    "DEFAULT",
    "ERROR_CODES",
    "ESCALATIONS",
    "IDENTIFIER_KINDS",
    "INBOX_KINDS",
    "INBOX_STATUSES",
    "LANG_COOKIE",
    "LOCALES",
    "N_",
    "REPLY_PROBLEMS",
    "ROLES",
    "SAVED_REPLY_VARIABLES",
    "STATUSES",
    "ZONE",
    "Words",
    "choose",
    "words",
]

LOCALES = ("fr", "ar", "en")
DEFAULT = "fr"
LANG_COOKIE = "relais_lang"
ZONE = ZoneInfo("Europe/Paris")  # the one wall clock of every screen, named on it
CATALOG_DOMAIN = "messages"


def N_(message: str) -> str:
    """Mark `message` for extraction where it is translated later (a table of titles); returns it."""
    return message


def C_(context: str, key: str) -> str:
    """Mark `key` (translated under `context` elsewhere) for extraction; returns the key."""
    return key


# Post and delivery statuses (shared/statuses.py), as people read them.
STATUSES = (
    C_("status", "queued"),
    C_("status", "waiting_for_hub"),
    C_("status", "received"),
    C_("status", "awaiting_approval"),
    C_("status", "scheduled"),
    C_("status", "pending"),
    C_("status", "publishing"),
    C_("status", "throttled"),
    C_("status", "unconfirmed"),
    C_("status", "published"),
    C_("status", "partially_published"),
    C_("status", "failed"),
    C_("status", "invalid"),
    C_("status", "rejected"),
    C_("status", "expired"),
)
# Roles of the people signed in (services/hub/accounts.py and, later, agency advisors).
ROLES = (C_("role", "admin"), C_("role", "moderator"), C_("role", "ops"), C_("role", "advisor"))
# Decisions people take on a post or a dead letter, told to whoever comes second.
DECISIONS = (
    C_("decision", "approved"),
    C_("decision", "edited_and_approved"),
    C_("decision", "rejected"),
    C_("decision", "retry"),
    C_("decision", "mark_published"),
)
# API error codes a person may be shown (the JSON error's `code`), translated from the code.
ERROR_CODES = (
    C_("error", "unauthenticated"),
    C_("error", "forbidden"),
    C_("error", "csrf"),
    C_("error", "not_queued"),
    C_("error", "outside_scope"),
    C_("error", "missing_field"),
    C_("error", "bus_unavailable"),
    C_("error", "already_decided"),
    C_("error", "not_found"),
    C_("error", "invalid_field"),
    C_("error", "too_many_requests"),
    C_("error", "draft_too_large"),
    C_("error", "invalid_draft"),
    C_("error", "too_many_drafts"),
    C_("error", "invalid_assignee"),
    C_("error", "not_an_advocate"),
    C_("error", "consent_not_given"),
    C_("error", "app_password_network"),
    C_("error", "link_down"),
    C_("error", "hub_unavailable"),
    C_("error", "no_sealing_key"),
    C_("error", "instance_required"),
    C_("error", "instance_not_taken"),
    # The hub's refusals of a connection (services/hub/advocates_oauth.py), shown by the node's page.
    C_("error", "unknown_advocate"),
    C_("error", "opted_out"),
    C_("error", "not_configured"),
    C_("error", "invalid_instance"),
    C_("error", "instance_not_configured"),
)

# An advocate's personal account as her node shows it (services/intake/advocates.py's SHOWN_STATUSES).
ADVOCACY_STATUSES = (
    C_("advocacy_status", "not_connected"),
    C_("advocacy_status", "connecting"),
    C_("advocacy_status", "connected"),
    C_("advocacy_status", "needs_reauth"),
    C_("advocacy_status", "refused"),
)

# Kinds of citizens' identifiers masked in incoming messages (shared/personal_data.py's KINDS).
IDENTIFIER_KINDS = (
    C_("identifier", "nir"),
    C_("identifier", "france_travail"),
    C_("identifier", "cin"),
    C_("identifier", "phone"),
    C_("identifier", "email"),
)

# A conversation of the inbox as its readers see it: its status (`answered`: its clock was stopped
# by a response), the level its clock escalated to (`none` when it has not), its items' kinds.
INBOX_STATUSES = (C_("inbox_status", "new"), C_("inbox_status", "pending"), C_("inbox_status", "answered"))
ESCALATIONS = (C_("escalation", "none"), C_("escalation", "region"), C_("escalation", "hub"))
INBOX_KINDS = (
    C_("inbox_kind", "comment"),
    C_("inbox_kind", "reply"),
    C_("inbox_kind", "mention"),
    C_("inbox_kind", "message"),
)
# A saved reply's variables (shared/saved_replies.py's VARIABLES), as the reply forms label them.
SAVED_REPLY_VARIABLES = (
    C_("variable", "auteur"),
    C_("variable", "agence"),
    C_("variable", "conseiller"),
    C_("variable", "telephone"),
    C_("variable", "lien"),
    C_("variable", "horaires"),
)
# Why the replies APIs (node and hub) refuse a reply, as the reply forms say it.
REPLY_PROBLEMS = (
    C_("problem", "too_long"),
    C_("problem", "empty"),
    C_("problem", "text_too_long"),
    C_("problem", "missing_field"),
    C_("problem", "invalid_type"),
    C_("problem", "unknown_item"),
    C_("problem", "nothing_to_answer"),
    C_("problem", "conflicting_fields"),
    C_("problem", "unknown_saved_reply"),
    C_("problem", "missing_value"),
    C_("problem", "cannot_answer"),
    C_("problem", "idempotency_key_reused"),
    C_("problem", "page_not_in_agency"),
)


def choose(asked: str | None, remembered: str | None) -> str:
    """The page's language: `?lang=` first, then the cookie, else French (exact matches only)."""
    for value in (asked, remembered):
        if value in LOCALES:
            return value
    return DEFAULT


def catalog_path(locale: str) -> str:
    return f"locale/{locale}/LC_MESSAGES/{CATALOG_DOMAIN}.po"


@cache
def translations(locale: str) -> Translations:
    """The locale's catalog as gettext translations (fuzzy entries are not used)."""
    text = files(__package__).joinpath(catalog_path(locale)).read_bytes()
    catalog = read_po(io.BytesIO(text), locale=locale)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=CATALOG_DOMAIN)


class Words:
    """One language's words, dates and numbers (what a template or a handler needs)."""

    def __init__(self, locale: str) -> None:
        self.locale = locale if locale in LOCALES else DEFAULT
        self.translations = translations(self.locale)
        self.direction = Locale.parse(self.locale).text_direction  # "rtl" for Arabic

    def gettext(self, message: str) -> str:
        return self.translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.translations.ngettext(singular, plural, n)

    def pgettext(self, context: str, message: str) -> str:
        return str(self.translations.pgettext(context, message))

    def npgettext(self, context: str, singular: str, plural: str, n: int) -> str:
        return self.translations.npgettext(context, singular, plural, n)

    def status(self, key: str) -> str:
        """A status in words; an unknown key is shown as it is rather than hidden."""
        return self.pgettext("status", key) if key in STATUSES else key

    def decision(self, key: str) -> str:
        return self.pgettext("decision", key) if key in DECISIONS else key

    def role(self, key: str) -> str:
        return self.pgettext("role", key) if key in ROLES else key

    def error(self, code: str, fallback: str = "") -> str:
        """An API error as people read it, from its code (the English message when unknown)."""
        return self.pgettext("error", code) if code in ERROR_CODES else fallback or code

    def identifier(self, kind: str) -> str:
        """A kind of identifier in words (« numéro de téléphone »); an unknown kind as it is."""
        return self.pgettext("identifier", kind) if kind in IDENTIFIER_KINDS else kind

    def inbox_status(self, key: str) -> str:
        return self.pgettext("inbox_status", key) if key in INBOX_STATUSES else key

    def escalation(self, level: str) -> str:
        return self.pgettext("escalation", level) if level in ESCALATIONS else level

    def inbox_kind(self, kind: str) -> str:
        return self.pgettext("inbox_kind", kind) if kind in INBOX_KINDS else kind

    def masked_identifier(self, kind: str) -> str:
        """What a view shows where a masked message had an identifier (its token, ⟦phone⟧)."""
        return self.gettext("[%(kind)s — masked]") % {"kind": self.identifier(kind)}

    def identifiers(self, kinds: Iterable[str]) -> str:
        """Kinds of identifiers in words, as a list in the language (« téléphone et e-mail »)."""
        return format_list([self.identifier(kind) for kind in kinds], locale=self.locale)

    def personal_data_notice(self, kinds: tuple[str, ...]) -> str:
        """What the agent reads beside a message whose identifiers were masked."""
        named = self.identifiers(kinds)
        return self.gettext(
            "This message contained personal data (%(kinds)s), masked here. "
            "Invite the person to go on in a private message."
        ) % {"kinds": named}

    def number(self, value: int | float) -> str:
        return format_decimal(value, locale=self.locale)

    def moment(self, value: datetime, zone: tzinfo = ZONE) -> str:
        """Day, month and time to the second, in Paris time unless another zone is named."""
        day = format_skeleton("MMMd", value, tzinfo=zone, locale=self.locale)
        return f"{day} {self.clock(value, zone)}"

    def clock(self, value: datetime, zone: tzinfo = ZONE) -> str:
        return format_time(value, "HH:mm:ss", tzinfo=zone, locale=self.locale)

    def duration(self, value: timedelta) -> str:
        """Hours and minutes (« 2 h 30 min »), the minutes rounded down; days are hours here (a
        business day is not 24 of them)."""
        minutes = max(0, int(value.total_seconds()) // 60)
        hours, minutes = divmod(minutes, 60)
        parts = [format_unit(hours, "duration-hour", length="short", locale=self.locale)] if hours else []
        if minutes or not hours:
            parts.append(format_unit(minutes, "duration-minute", length="short", locale=self.locale))
        return " ".join(parts)

    def hour(self, value: datetime) -> str:
        return format_skeleton("Hm", value, tzinfo=ZONE, locale=self.locale)

    def short_time(self, value: datetime) -> str:
        return format_time(value, "HH:mm", tzinfo=ZONE, locale=self.locale)

    def day(self, value: date) -> str:
        return format_skeleton("MMMEd", value, locale=self.locale)

    def language_name(self, locale: str) -> str:
        """A language's own name (« العربية »), as a language switch shows it."""
        name = Locale.parse(locale).get_display_name(locale) or locale
        return name[:1].upper() + name[1:]


@cache
def words(locale: str) -> Words:
    return Words(locale)
