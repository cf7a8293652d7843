"""Real, minimal presentations and look-alikes for the document media type tests.

Each is a file its format's readers would open: a PDF with its header, one page and its `%%EOF`
trailer; a PPTX (ECMA-376 package with `[Content_Types].xml` and `ppt/presentation.xml`); an ODP
whose first entry is the stored `mimetype` (ODF 1.2 part 3, 3.3); and, to be refused, a DOCX
and a plain zip, which start with the same bytes as a PPTX.
"""

from __future__ import annotations

import io
import zipfile

__all__ = ["docx", "odp", "pdf", "plain_zip", "pptx", "truncated_pdf"]


def pdf(pages: int = 1) -> bytes:
    """A small PDF of `pages` blank pages."""
    kids = " ".join(f"{3 + n} 0 R" for n in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode(),
    ]
    objects += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 960 540] >>"] * pages
    body, offsets = b"%PDF-1.7\n", []
    for number, content in enumerate(objects, start=1):
        offsets.append(len(body))
        body += f"{number} 0 obj\n".encode() + content + b"\nendobj\n"
    xref = len(body)
    body += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    body += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    body += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return body


def truncated_pdf() -> bytes:
    """A PDF cut short (no trailer): intake takes it by its header, conversion fails on it."""
    return pdf(3)[:-60]


def _zip(entries: list[tuple[str, bytes]], *, stored_first: bool = False) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for index, (name, data) in enumerate(entries):
            compression = zipfile.ZIP_STORED if stored_first and index == 0 else zipfile.ZIP_DEFLATED
            archive.writestr(name, data, compress_type=compression)
    return buffer.getvalue()


def pptx() -> bytes:
    return _zip(
        [
            ("[Content_Types].xml", b'<?xml version="1.0"?><Types/>'),
            ("_rels/.rels", b'<?xml version="1.0"?><Relationships/>'),
            ("ppt/presentation.xml", b'<?xml version="1.0"?><p:presentation/>'),
        ]
    )


def odp() -> bytes:
    return _zip(
        [
            ("mimetype", b"application/vnd.oasis.opendocument.presentation"),
            ("content.xml", b'<?xml version="1.0"?><office:document-content/>'),
            ("META-INF/manifest.xml", b'<?xml version="1.0"?><manifest:manifest/>'),
        ],
        stored_first=True,
    )


def docx() -> bytes:
    return _zip(
        [
            ("[Content_Types].xml", b'<?xml version="1.0"?><Types/>'),
            ("word/document.xml", b'<?xml version="1.0"?><w:document/>'),
        ]
    )


def plain_zip() -> bytes:
    return _zip([("notes.txt", b"Bonjour")])
