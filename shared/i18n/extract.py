"""Every message the code and the templates translate, found by Babel's extractor (as `pybabel
extract` would). `python -m shared.i18n.extract` prints those a catalog lacks or leaves empty.

Python sources are read for `_`, `gettext`, `ngettext`, `pgettext`, `N_` and `C_`; templates with
Jinja2's extractor. The catalogs' tests compare this with each language's `.po` file.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterable
from importlib.resources import files
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

from shared.i18n import LOCALES, catalog_path

__all__ = ["MessageKey", "catalog", "extracted", "missing"]

MessageKey = tuple[str | None, str]  # (context, msgid)
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None, "C_": ((1, "c"), 2)}
METHODS = [("**.py", "python"), ("**/templates/**.html", "jinja2.ext:babel_extract")]
# Where people's words are written: the hub's pages, the agency nodes' pages, the shared words.
SOURCES = ("services/hub", "services/intake", "shared/i18n")
ROOT = Path(__file__).resolve().parents[2]


def extracted(root: Path = ROOT, sources: Iterable[str] = SOURCES) -> dict[MessageKey, str]:
    """(context, msgid) → where it was found first, for every translatable message."""
    found: dict[MessageKey, str] = {}
    for source in sources:
        for filename, line, message, _comments, context in extract_from_dir(
            root / source,
            METHODS,
            keywords=KEYWORDS,
            options_map={"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}},
        ):
            # A plural message is known by its singular msgid (as in a catalog).
            msgid = message[0] if isinstance(message, tuple) else message
            if msgid:
                found.setdefault((context, msgid), f"{source}/{filename}:{line}")
    return found


def catalog(locale: str) -> Catalog:
    text = files("shared.i18n").joinpath(catalog_path(locale)).read_bytes()
    return read_po(io.BytesIO(text), locale=locale)


def missing(locale: str, wanted: Iterable[MessageKey]) -> list[MessageKey]:
    """The messages `locale`'s catalog lacks, leaves untranslated (any plural form) or marks fuzzy."""
    book = catalog(locale)
    gaps = []
    for context, msgid in wanted:
        entry = book.get(msgid, context=context)
        strings = entry.string if entry is not None else ""
        translated = all(strings) if isinstance(strings, tuple) else bool(strings)
        if entry is None or not translated or entry.fuzzy:
            gaps.append((context, msgid))
    return gaps


if __name__ == "__main__":
    wanted = extracted()
    gaps = {locale: missing(locale, wanted) for locale in LOCALES}
    for locale, keys in gaps.items():
        for context, msgid in keys:
            print(f"{locale}\t{context or ''}\t{msgid}\t{wanted[(context, msgid)]}")
    sys.exit(1 if any(gaps.values()) else 0)
