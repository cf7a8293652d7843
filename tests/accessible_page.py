"""What a person, or assistive technology, finds on a server-rendered page (the hub's and the
agency composer's tests read pages with it): the page's language, its tags, the labels tied to
controls (label[for] ↔ id), buttons' names, descriptions, live regions, times, JSON data blocks,
tables (caption, header cells and their scope) and the URLs it points to."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

Attributes = dict[str, str | None]


@dataclass
class Cell:
    tag: str  # th or td
    scope: str | None
    text: str  # its text, white space collapsed, as a screen reader reads it


@dataclass
class Table:
    caption: str = ""
    rows: list[list[Cell]] = field(default_factory=list)

    def texts(self) -> list[list[str]]:
        return [[cell.text for cell in row] for row in self.rows]


class AccessiblePage(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.html: Attributes = {}
        self.tags: list[str] = []
        self.ids: list[str] = []
        # id → (tag, attributes) of every input, text area and select but hidden inputs
        self.controls: dict[str, tuple[str, Attributes]] = {}
        self.inputs: dict[str, Attributes] = {}  # every input with an id, hidden ones included
        self.labels: dict[str, str] = {}  # control id → its label's text
        self.buttons: list[str] = []
        self.times: list[tuple[str, str]] = []  # (datetime attribute, text shown)
        self.urls: list[str] = []
        self.live: list[Attributes] = []
        self.json_blocks: dict[str, str] = {}
        self.tables: list[Table] = []
        self._open: list[tuple[str, Attributes, list[str]]] = []
        self._table: list[Table] = []  # the tables being read (a table may hold another)
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append(tag)
        if tag == "html":
            self.html = attributes
        if attributes.get("id"):
            self.ids.append(attributes["id"] or "")
        if tag == "input" and attributes.get("id"):
            self.inputs[attributes["id"] or ""] = attributes
        if tag in ("input", "textarea", "select") and attributes.get("type") != "hidden":
            self.controls[attributes.get("id") or f"?{len(self.controls)}"] = (tag, attributes)
        if attributes.get("aria-live"):
            self.live.append(attributes)
        self.urls += [v or "" for k, v in attrs if k in ("href", "src", "action", "formaction")]
        if tag == "br":  # a line break separates words, as a reader reads them
            self.handle_data(" ")
        if tag == "table":
            self._table.append(Table())
            self.tables.append(self._table[-1])
        if tag == "tr" and self._table:
            self._table[-1].rows.append([])
        if tag in ("label", "button", "time", "script", "caption", "th", "td"):
            self._open.append((tag, attributes, []))

    def handle_data(self, data: str) -> None:
        for _, _, text in self._open:
            text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self._table:
            self._table.pop()
        if not self._open or self._open[-1][0] != tag:
            return
        _, attributes, parts = self._open.pop()
        text = " ".join("".join(parts).split())
        if tag == "label" and attributes.get("for"):
            self.labels[attributes["for"] or ""] = text
        elif tag == "button":
            self.buttons.append(text)
        elif tag == "time":
            self.times.append((attributes.get("datetime") or "", text))
        elif tag == "script" and attributes.get("type") == "application/json":
            self.json_blocks[attributes.get("id") or ""] = "".join(parts)
        elif tag == "caption" and self._table:
            self._table[-1].caption = text
        elif tag in ("th", "td") and self._table and self._table[-1].rows:
            self._table[-1].rows[-1].append(Cell(tag, attributes.get("scope"), text))

    def named(self, name: str, tag: str = "input", kind: str | None = None) -> list[str]:
        """Ids of the controls whose label is exactly `name`."""
        return [
            control_id
            for control_id, (control_tag, attributes) in self.controls.items()
            if self.labels.get(control_id) == name
            and control_tag == tag
            and (kind is None or attributes.get("type") == kind)
        ]

    def label_of(self, name: str) -> str | None:
        """The text of the label tied (by `for`) to the input named `name`."""
        ids = [i for i, a in self.inputs.items() if a.get("name") == name]
        return self.labels.get(ids[0]) if len(ids) == 1 else None
