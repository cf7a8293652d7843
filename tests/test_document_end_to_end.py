"""A presentation from the advisor's upload to SlideShare, with real processes.

The PDF travels like any attachment (agency upload → the hub's object store → the dispatcher,
checked against the approved SHA-256) and goes up with `upload_slideshow`; the delivery is
published only once `get_slideshow` says the slideshow is converted, and fails with the reason
when SlideShare cannot convert it. The sandbox says what it received.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable
from pathlib import Path

from relais.system import DEMO_CSV
from tests.documents import pdf, truncated_pdf
from tests.harness import RelaisSystem
from tests.test_media_end_to_end import upload  # the file is judged by its content, not its name

AGENCY = "lyon-part-dieu"
PAGE = f"{AGENCY}-slideshare"
TEXT = "Forum de l'emploi jeudi 10 h à Lyon Part-Dieu\nLe programme et les exposants #emploi #forum"


def registry_with_slideshare(path: Path) -> Path:
    """The demo agency, with one page on SlideShare."""
    with DEMO_CSV.open(encoding="utf-8") as source:
        template = next(row for row in csv.DictReader(source) if row["agency"] == AGENCY)
    with path.open("w", newline="", encoding="utf-8") as target:
        writer = csv.DictWriter(target, fieldnames=list(template))
        writer.writeheader()
        writer.writerow(
            template
            | {
                "network": "slideshare",
                "page": PAGE,
                "handle": "ft-lyon",
                "credentials_ref": f"sandbox/{PAGE}",
            }
        )
    return path


def publish(relais: RelaisSystem, data: bytes) -> dict[str, object]:
    stored = upload(relais, data)
    assert stored["content_type"] == "application/pdf"
    status, accepted = relais.post(
        {
            "text": TEXT,
            "networks": ["slideshare"],
            "media": [{"id": stored["id"], "alt": "Programme du forum"}],
        }
    )
    assert status == 202, accepted
    return dict(relais.wait_status(str(accepted["id"]), ("published", "failed"), timeout=60))


def test_a_pdf_is_published_to_slideshare_once_converted_and_a_failed_conversion_says_why(
    make_relais: Callable[..., RelaisSystem], tmp_path: Path
) -> None:
    relais = make_relais(csv_path=registry_with_slideshare(tmp_path / "registry.csv"), agencies=[AGENCY])

    document = pdf(2)
    post = publish(relais, document)
    [delivery] = post["deliveries"]  # type: ignore[misc]
    assert delivery["status"] == "published", post
    [received] = relais.sandbox_posts()
    assert delivery["url"] == f"https://www.slideshare.net/ft-lyon/{received['remote_id']}"
    assert received["network"] == "slideshare" and received["text"] == TEXT
    assert received["body"]["slideshow_title"] == "Forum de l'emploi jeudi 10 h à Lyon Part-Dieu"
    assert received["body"]["slideshow_tags"] == "emploi,forum"
    [file] = received["media"]
    assert (
        file["sha256"] == hashlib.sha256(document).hexdigest() and file["content_type"] == "application/pdf"
    )

    # A PDF cut short passes intake (its header is a PDF's) but SlideShare cannot convert it.
    post = publish(relais, truncated_pdf())
    [delivery] = post["deliveries"]  # type: ignore[misc]
    assert post["status"] == "failed" and delivery["status"] == "failed", post
    assert "could not convert the presentation" in str(delivery["error"]), delivery
