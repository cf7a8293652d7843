"""Links that measure (issue #16 item 4): every link an advocate shares carries UTM parameters.

`utm_source` is the network's id in Relais, `utm_medium` is `advocacy`, `utm_campaign` the story's
id and `utm_content` the agency's id. The link's other query parameters are kept byte for byte (a
job board's `?offre=123&lieu=Lyon%2069` must still find the offer), existing `utm_*` parameters are
replaced (an advocate re-sharing a tagged link must not count for the first share's campaign), and
the fragment stays last.

Only links written with their scheme are tagged: scheme-less domains (`francetravail.fr`) are links
on X but plain text on Mastodon and Bluesky, where a tagged one would show its `?utm_…` tail as text.
"""

from __future__ import annotations

from urllib.parse import quote, unquote, urlsplit, urlunsplit

from shared.networks.extract import extract_urls

__all__ = ["UTM_MEDIUM", "tag_link", "tag_links"]

UTM_MEDIUM = "advocacy"


def tag_link(url: str, *, network: str, story_id: str, agency: str) -> str:
    """`url` with the advocacy UTM parameters, its other parameters untouched."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"not a web link: {url!r}")
    kept = [field for field in parts.query.split("&") if field and not _is_utm(field)]
    tags = {"utm_source": network, "utm_medium": UTM_MEDIUM, "utm_campaign": story_id, "utm_content": agency}
    kept += [f"{name}={quote(value, safe='')}" for name, value in tags.items()]
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", "&".join(kept), parts.fragment))


def tag_links(text: str, *, network: str, story_id: str, agency: str) -> str:
    """`text` with every link that has its scheme tagged by `tag_link`; the rest is unchanged."""
    pieces: list[str] = []
    cursor = 0
    for entity in extract_urls(text, without_protocol=False):
        pieces += [
            text[cursor : entity.start],
            tag_link(entity.value, network=network, story_id=story_id, agency=agency),
        ]
        cursor = entity.end
    return "".join(pieces) + text[cursor:]


def _is_utm(field: str) -> bool:
    name = unquote(field.partition("=")[0].replace("+", " "))
    return name.strip().lower().startswith("utm_")
