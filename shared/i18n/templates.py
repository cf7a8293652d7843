"""Jinja2 environments for server-rendered pages: autoescaping always on, gettext from the catalogs.

One environment per (template package, language), built once: `{{ _("Sign in") }}` and
`{{ pgettext("status", key) }}` translate, and newstyle gettext escapes the values it formats.
The same helper serves the hub now and agency nodes later.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache

from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined

from shared.i18n import LOCALES, ZONE, words

__all__ = ["environment"]


@cache
def environment(package: str, locale: str) -> Environment:
    """Templates under `<package>/templates`, then the shared ones (`shared/i18n/templates`: the
    sign-in form), in `locale` (a checked one: see `shared.i18n.choose`)."""
    assert locale in LOCALES, locale
    env = Environment(
        loader=ChoiceLoader([PackageLoader(package, "templates"), PackageLoader("shared.i18n", "templates")]),
        autoescape=True,  # every template is HTML; `|safe` is never used on outside text
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    language = words(locale)
    env.install_gettext_translations(language.translations, newstyle=True)  # type: ignore[attr-defined]
    env.globals.update(
        words=language,
        lang=locale,
        dir=language.direction,
        locales=LOCALES,
        zone=ZONE.key,
        parse_time=datetime.fromisoformat,
    )
    return env
