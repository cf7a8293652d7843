"""Making a text fit: split it into a numbered thread or cut it with an ellipsis.

Both work for any network because they only ask one question, `fits(chunk)`, which the
network answers with its own measure (weighted length, graphemes and bytes, links…).
Cuts happen at the best boundary available: paragraph, line, sentence, word, and only for
text without spaces (CJK, a long token) between grapheme clusters; never inside a
grapheme cluster nor inside a protected entity (URL, hashtag, mention).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import regex

from .model import Entity
from .text import attaching_chars, grapheme_boundaries

__all__ = ["Fitted", "thread", "truncate"]

Fits = Callable[[str], bool]

GRAPHEME, WORD, SENTENCE, LINE, PARAGRAPH = range(5)
# A cut at a stronger boundary is preferred while it keeps at least this share of what the
# best possible cut would keep; otherwise parts get needlessly short.
_MIN_FILL = {PARAGRAPH: 0.5, LINE: 0.5, SENTENCE: 0.5, WORD: 0.3}
_WAYPOINT = 256

# Break only at breakable white space: a no-break space (French « », before ! ? ; :) glues.
_SPACE_RUN = regex.compile(r"[^\S\u00A0\u202F\u2007]+")
_SENTENCE_END = regex.compile(r"[.!?…؟。！？][\u00A0\u202F]?[»”\"’)\]]*(?=\s)")
_TRAILING_JUNK = regex.compile(r"[\s,;:–—-]+$")


@dataclass(frozen=True, slots=True)
class Fitted:
    """Chunks to send (before any network encoding), or why there are none.

    `cuts` are the offsets in the original text where it was cut, for checking that no cut
    ever falls inside a grapheme cluster or an entity.
    """

    chunks: list[str]
    cuts: list[int] = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True, slots=True)
class _Break:
    end: int  # where the chunk before the break ends
    resume: int  # where the text after it starts (after the white space)
    level: int


class _Text:
    """A text with its allowed cut points, computed once per fitting."""

    def __init__(self, text: str, protected: Sequence[Entity]) -> None:
        self.text = text
        self.spans = sorted((e.start, e.end) for e in protected)
        self._graphemes: list[int] | None = None
        self.breaks = self._breaks()
        self.ends = [b.end for b in self.breaks]

    def inside_entity(self, pos: int) -> bool:
        i = bisect_right(self.spans, (pos, len(self.text) + 1)) - 1
        return any(start < pos < end for start, end in self.spans[max(i - 1, 0) : i + 1])

    def _breaks(self) -> list[_Break]:
        text = self.text
        sentence_ends = {m.end() for m in _SENTENCE_END.finditer(text)}
        found = []
        attaching = attaching_chars()
        for run in _SPACE_RUN.finditer(text):
            start, end = run.span()
            # A combining mark after the space belongs to the space's grapheme cluster.
            if start == 0 or end == len(text) or text[end] in attaching or self.inside_entity(start):
                continue
            newlines = run.group().count("\n")
            level = (
                PARAGRAPH
                if newlines >= 2
                else LINE
                if newlines
                else SENTENCE
                if start in sentence_ends
                else WORD
            )
            found.append(_Break(start, end, level))
        return self._with_waypoints(found)

    def _with_waypoints(self, breaks: list[_Break]) -> list[_Break]:
        """Add grapheme-level cut points every `_WAYPOINT` characters in long space-free runs.

        Probing a cut measures the chunk before it; without waypoints, the only candidate
        after a long run is its end, and each part would measure the rest of the text.
        """
        gaps, previous = [], 0
        for brk in [*breaks, _Break(len(self.text), len(self.text), PARAGRAPH)]:
            if brk.end - previous > _WAYPOINT:
                gaps.append((previous, brk.end))
            previous = brk.resume
        if not gaps:
            return breaks
        points = []
        for low, high in gaps:
            cuts = self.grapheme_cuts(low, high)
            target = low + _WAYPOINT
            for pos in cuts:
                if pos >= target:
                    points.append(_Break(pos, pos, GRAPHEME))
                    target = pos + _WAYPOINT
        return sorted([*breaks, *points], key=lambda b: b.end)

    def grapheme_cuts(self, low: int, high: int) -> list[int]:
        """Cut points strictly between `low` and `high` inside a run without spaces."""
        if self._graphemes is None:
            self._graphemes = grapheme_boundaries(self.text)
        bounds = self._graphemes
        chosen = bounds[bisect_right(bounds, low) : bisect_left(bounds, high)]
        return [pos for pos in chosen if not self.inside_entity(pos)]


def _last_fitting(count: int, ok: Callable[[int], bool]) -> int | None:
    """Largest index `i < count` with `ok(i)`, assuming `ok` is true then false.

    Galloping from the start (1, 2, 4… then bisection) rather than bisecting the whole
    range: a probe measures a chunk, and far probes would measure most of a long text.
    """
    if count == 0 or not ok(0):
        return None
    best, step = 0, 1
    while best + step < count and ok(best + step):
        best, step = best + step, step * 2
    low, high = best + 1, min(best + step, count) - 1
    while low <= high:
        mid = (low + high) // 2
        if ok(mid):
            best, low = mid, mid + 1
        else:
            high = mid - 1
    return best


def _best_cut(
    t: _Text, start: int, ok: Callable[[int], bool], *, structured: bool, to_end: bool
) -> _Break | None:
    """The cut ending the chunk that starts at `start` (`ok(end)`: does `[start, end)` fit?).

    With `to_end`, the end of the text is the last candidate (a thread's last part). With
    `structured`, a paragraph, line or sentence boundary wins over a further word boundary
    as long as the chunk stays reasonably full.
    """
    end = len(t.text)
    candidates = t.breaks[bisect_right(t.ends, start) :]
    if to_end:
        candidates = [*candidates, _Break(end, end, PARAGRAPH)]
    i = _last_fitting(len(candidates), lambda k: ok(candidates[k].end))
    best = candidates[i] if i is not None else None
    if best is not None and best.end == end:
        return best
    # Inside the word that overflowed, a cut between graphemes may keep much more (CJK).
    low = best.resume if best else start
    following = (i + 1) if i is not None else 0
    high = candidates[following].end if following < len(candidates) else end
    cuts = t.grapheme_cuts(low, high)
    j = _last_fitting(len(cuts), lambda k: ok(cuts[k]))
    fine = _Break(cuts[j], cuts[j], GRAPHEME) if j is not None else None
    if best is None or i is None:
        return fine
    reach = (fine.end if fine else best.end) - start
    for level in (PARAGRAPH, LINE, SENTENCE, WORD) if structured else (WORD,):
        pick = next((b for b in reversed(candidates[: i + 1]) if b.level >= level), None)
        if pick and pick.end - start >= _MIN_FILL[level] * reach:
            return pick
    return fine or best


def thread(text: str, fits: Fits, protected: Sequence[Entity], numbering: str) -> Fitted:
    """Split `text` into chunks that each fit once numbered (`numbering.format(i=, n=)`)."""
    if fits(text):
        return Fitted([text])
    t = _Text(text, protected)
    digits = 1
    while True:
        widest = numbering.format(i="9" * digits, n="9" * digits)
        packed = _pack(t, _numbered(fits, widest))
        if packed is None:
            return Fitted([], error="a link, tag or word is longer than the limit")
        spans, cuts = packed
        if len(str(len(spans))) <= digits:
            break
        digits += 1
    total = len(spans)
    chunks = [text[s:e] + numbering.format(i=k, n=total) for k, (s, e) in enumerate(spans, 1)]
    if not all(fits(chunk) for chunk in chunks):
        return Fitted([], error="the numbered parts do not fit")
    return Fitted(chunks, cuts)


def _numbered(fits: Fits, suffix: str) -> Fits:
    def numbered(chunk: str) -> bool:
        return fits(chunk + suffix)

    return numbered


def _chunk_fits(fits: Fits, text: str, start: int) -> Callable[[int], bool]:
    def ok(end: int) -> bool:
        return fits(text[start:end])

    return ok


def _pack(t: _Text, fits: Fits) -> tuple[list[tuple[int, int]], list[int]] | None:
    text, start = t.text, 0
    spans: list[tuple[int, int]] = []
    cuts: list[int] = []
    while True:
        cut = _best_cut(t, start, _chunk_fits(fits, text, start), structured=True, to_end=True)
        if cut is None or cut.end <= start:
            return None
        spans.append((start, cut.end))
        if cut.end == len(text):
            return spans, cuts
        cuts.extend((cut.end, cut.resume))
        start = cut.resume


def truncate(text: str, fits: Fits, protected: Sequence[Entity], ellipsis: str = "…") -> Fitted:
    """Cut `text` at a word boundary and add `ellipsis`, keeping its trailing links and tags.

    The trailing links and tags (and the link appended to the post) stay whole; if they do
    not leave room for any text, the tags are dropped and the links kept.
    """
    if fits(text):
        return Fitted([text])
    tail_start, tail = _tail(text, protected)
    prose = text[:tail_start].rstrip()
    sep = text[len(prose) : tail_start]
    tails = [text[tail_start:]]
    links = [text[e.start : e.end] for e in tail if e.kind == "url"]
    if len(links) < len(tail):
        tails.append("\n".join(links))
    t = _Text(prose, [e for e in protected if e.end <= len(prose)])
    entity_ends = {e.end for e in protected}
    for kept in tails:
        if not prose:
            if kept and fits(kept):
                return Fitted([kept], [tail_start])
            continue
        joint = sep + kept if kept else ""
        if kept != tails[0] and fits(prose + joint):  # the whole text once the tags are dropped
            return Fitted([prose + joint], [len(prose)])

        def build(end: int, joint: str = joint) -> str:
            cut = prose[:end] if end in entity_ends else _TRAILING_JUNK.sub("", prose[:end])
            # "…" right after a link would join it on Bluesky: keep them apart.
            glue = " " if len(cut) in entity_ends else ""
            return f"{cut}{glue}{ellipsis}{joint}"

        cut = _best_cut(t, 0, lambda end: fits(build(end)), structured=False, to_end=False)
        if cut is not None and cut.end > 0:
            return Fitted([build(cut.end)], [cut.end])
    return Fitted([], error="the links and tags to keep leave no room for the text")


def _tail(text: str, protected: Sequence[Entity]) -> tuple[int, list[Entity]]:
    """Where the trailing run of entities (links, tags, mentions) starts, and those entities."""
    pos, tail = len(text), list[Entity]()
    for entity in sorted(protected, key=lambda e: e.start, reverse=True):
        if entity.end > pos or text[entity.end : pos].strip():
            break
        tail.insert(0, entity)
        pos = entity.start
    return (pos, tail) if tail else (len(text), [])
