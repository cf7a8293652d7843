"""An image from the advisor's upload to every network that takes one, with real processes.

The bytes travel: agency upload → the hub's object store → the dispatcher (checked against the
approved SHA-256) → each network's upload API (X, Mastodon, Bluesky, LinkedIn, Facebook,
Telegram) or, for Instagram and Threads, the dispatcher's `GET /media/{id}`, which the sandbox
downloads as those networks do. Facets (Bluesky) and the content warning (Mastodon) travel too.
The sandbox says what it received; nothing is taken on trust.
"""

from __future__ import annotations

import csv
import hashlib
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

from relais.system import DEMO_CSV
from services.dispatcher.media_urls import MediaUrlSigner
from shared.secrets import load_or_create_key
from tests.harness import RelaisSystem, eventually, http
from tests.images import jpeg

AGENCY = "lyon-part-dieu"
NETWORKS = ["x", "mastodon", "bluesky", "linkedin", "facebook", "telegram", "instagram", "threads"]
HANDLES = {"linkedin": "81726354", "facebook": "104857600123", "instagram": "17841", "threads": "9001"}
IMAGE = jpeg(1080, 1350, comment=b"Forum de l'emploi " * 200)


def registry_with_every_network(path: Path) -> Path:
    """The demo agency, with one page on each network that takes an image."""
    with DEMO_CSV.open(encoding="utf-8") as source:
        template = next(row for row in csv.DictReader(source) if row["agency"] == AGENCY)
    with path.open("w", newline="", encoding="utf-8") as target:
        writer = csv.DictWriter(target, fieldnames=list(template))
        writer.writeheader()
        for network in NETWORKS:
            page = f"{AGENCY}-{network}"
            handle = HANDLES.get(network, "ft-lyon-partdieu" if network == "bluesky" else "ft_lyon_partdieu")
            writer.writerow(
                template
                | {"network": network, "page": page, "handle": handle, "credentials_ref": f"sandbox/{page}"}
            )
    return path


def upload(relais: RelaisSystem, data: bytes) -> dict[str, object]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="affiche.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    status, stored = http(
        "POST",
        f"{relais.intake_url()}/v1/media",
        raw=body,
        token=relais.token(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert status == 201, stored
    return dict(stored)


def test_an_image_reaches_every_network_with_its_alt_text_facets_and_content_warning(
    make_relais: Callable[..., RelaisSystem], tmp_path: Path
) -> None:
    relais = make_relais(csv_path=registry_with_every_network(tmp_path / "registry.csv"), agencies=[AGENCY])
    stored = upload(relais, IMAGE)
    alt = "Affiche du forum de l'emploi, jeudi 10 h"

    status, accepted = relais.post(
        {
            "text": "Forum de l'emploi jeudi 10 h à Lyon Part-Dieu #emploi",
            "networks": NETWORKS,
            "media": [{"id": stored["id"], "alt": alt}],
            "content_warning": "Recrutement",
        }
    )
    assert status == 202, accepted

    post = relais.wait_status(accepted["id"], ("published", "failed", "partially_published"), timeout=60)
    assert {d["network"]: d["status"] for d in post["deliveries"]} == dict.fromkeys(NETWORKS, "published"), (
        post
    )
    received = eventually(lambda: (found := relais.sandbox_posts()) and len(found) == len(NETWORKS) and found)
    digest = hashlib.sha256(IMAGE).hexdigest()
    for item in received:
        [image] = item["media"]
        assert image["sha256"] == digest, item["network"]
        assert image["size"] == len(IMAGE)
        # Telegram and Threads have no alt text; every other network keeps the advisor's words.
        if item["network"] not in ("telegram", "threads"):
            assert image["alt"] == alt, item["network"]
    # What the formatter rendered besides the text reaches the networks too.
    by_network = {item["network"]: item for item in received}
    [tag] = by_network["bluesky"]["body"]["record"]["facets"]
    assert tag["features"] == [{"$type": "app.bsky.richtext.facet#tag", "tag": "emploi"}]
    assert by_network["mastodon"]["body"]["spoiler_text"] == "Recrutement"

    # Instagram and Threads got the file from an address the dispatcher signed: the bare address
    # is refused, one signed with the deployment's secrets key serves it.
    dispatcher = f"http://127.0.0.1:{relais.ports.dispatcher}"
    status, refused = http("GET", f"{dispatcher}/media/{stored['id']}")
    assert (status, refused["error"]["code"]) == (403, "invalid_media_url")
    signer = MediaUrlSigner.from_secrets_key(load_or_create_key({"RELAIS_DATA_DIR": str(relais.data_dir)}))
    with urllib.request.urlopen(signer.url(dispatcher, str(stored["id"])), timeout=10) as served:
        assert served.read() == IMAGE
