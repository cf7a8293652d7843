"""A post's title, tags and a video's captions from the advisor's request to the networks, with real
processes (intake → federation → formatter → hub → dispatcher → the emulators).

SlideShare and YouTube receive the title and tags given, not ones derived from the text; Bluesky,
which takes neither, receives the video's caption files as `text/vtt` blobs in its
`app.bsky.embed.video`, byte for byte as uploaded. A moderator sees each network's title and tags
in the queue, and an edit of the text keeps them. The emulators say what they received.
"""

from __future__ import annotations

import csv
import hashlib
import uuid
from collections.abc import Callable
from pathlib import Path

from relais.system import DEMO_CSV
from shared.tokens import issue_token
from tests.documents import pdf
from tests.harness import RelaisSystem, eventually, http
from tests.intake.conftest import MP4

AGENCY = "lyon-part-dieu"
NETWORKS = ("slideshare", "youtube", "bluesky")
HANDLES = {"slideshare": "ft-lyon", "youtube": "ft_lyon_partdieu", "bluesky": "ft-lyon-partdieu"}
VTT_FR = b"WEBVTT\n\n00:00.000 --> 00:02.000\nBienvenue au webinaire\n"
VTT_AR = "WEBVTT\n\n00:00.000 --> 00:02.000\nمرحبا بكم\n".encode()


def registry(path: Path) -> Path:
    """The demo agency, with one page on each network that takes a title, tags or captions."""
    with DEMO_CSV.open(encoding="utf-8") as source:
        template = next(row for row in csv.DictReader(source) if row["agency"] == AGENCY)
    with path.open("w", newline="", encoding="utf-8") as target:
        writer = csv.DictWriter(target, fieldnames=list(template))
        writer.writeheader()
        for network in NETWORKS:
            page = f"{AGENCY}-{network}"
            writer.writerow(
                template
                | {
                    "network": network,
                    "page": page,
                    "handle": HANDLES[network],
                    "credentials_ref": f"sandbox/{page}",
                }
            )
    return path


def upload(relais: RelaisSystem, data: bytes) -> str:
    boundary = uuid.uuid4().hex
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="f.bin"\r\n\r\n'.encode()
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
    return str(stored["id"])


def published(relais: RelaisSystem, body: dict[str, object]) -> dict[str, object]:
    status, accepted = relais.post(body)
    assert status == 202, accepted
    post = dict(relais.wait_status(str(accepted["id"]), ("published", "failed", "partial"), timeout=90))
    assert post["status"] == "published", post
    return post


def test_title_tags_and_captions_reach_the_networks_that_take_them(
    make_relais: Callable[..., RelaisSystem], tmp_path: Path
) -> None:
    relais = make_relais(csv_path=registry(tmp_path / "registry.csv"), agencies=[AGENCY])

    document = upload(relais, pdf(2))
    published(
        relais,
        {
            "text": "Forum de l'emploi jeudi 10 h\nLe programme #forum",
            "networks": ["slideshare"],
            "media": [{"id": document, "alt": "Programme du forum"}],
            "title": "Programme du forum 2026",
            "tags": ["emploi", "Lyon Part-Dieu"],
        },
    )
    [slideshow] = relais.sandbox_posts(network="slideshare")
    assert slideshow["body"]["slideshow_title"] == "Programme du forum 2026"
    assert slideshow["body"]["slideshow_tags"] == "emploi,Lyon Part-Dieu"

    # The video post waits for a moderator, who sees what each network is sent, and edits the text.
    status, body = http(
        "PUT",
        f"{relais.hub_url}/v1/policies",
        {"scope": f"agency:{AGENCY}", "mode": "moderated"},
        token=relais.token("admin"),
    )
    assert status == 200, body
    video, french, arabic = upload(relais, MP4), upload(relais, VTT_FR), upload(relais, VTT_AR)
    captions = [{"lang": "fr", "media_id": french}, {"lang": "ar", "media_id": arabic}]
    status, accepted = relais.post(
        {
            "text": "Replay du webinaire : les métiers qui recrutent #emploi",
            "networks": ["youtube", "bluesky"],
            "media": [{"id": video, "alt": "Replay du webinaire", "captions": captions}],
            "title": "Replay : les métiers qui recrutent",
            "tags": ["emploi", "webinaire"],
        }
    )
    assert status == 202, accepted
    moderator = issue_token(relais.key, role="moderator", subject="moderatrice-nationale")

    def queued() -> list[dict[str, object]]:
        status, body = http("GET", f"{relais.hub_url}/v1/moderation/queue", token=moderator)
        assert status == 200, body
        return [item for item in body["queue"] if item["post_id"] == accepted["id"]]

    [item] = eventually(queued)
    shown = {v["network"]: (v["title"], v["tags"]) for v in item["variants"]}
    assert shown == {
        "youtube": ("Replay : les métiers qui recrutent", ["emploi", "webinaire"]),
        "bluesky": (None, []),
    }
    edited = "Replay du webinaire de jeudi : les métiers qui recrutent #emploi"
    status, body = http(
        "POST", f"{relais.hub_url}/v1/moderation/{accepted['id']}/approve", {"text": edited}, token=moderator
    )
    assert status == 200, body
    post = dict(relais.wait_status(str(accepted["id"]), ("published", "failed", "partial"), timeout=90))
    assert post["status"] == "published", post
    [on_youtube] = relais.sandbox_posts(network="youtube")
    snippet = on_youtube["body"]["snippet"]
    assert snippet["description"] == edited
    assert (snippet["title"], snippet["tags"]) == (
        "Replay : les métiers qui recrutent",
        ["emploi", "webinaire"],
    )

    [on_bluesky] = relais.sandbox_posts(network="bluesky")
    record = on_bluesky["body"]["record"]
    embed = record["embed"]
    assert embed["$type"] == "app.bsky.embed.video" and embed["alt"] == "Replay du webinaire"
    assert [(c["lang"], c["file"]["mimeType"]) for c in embed["captions"]] == [
        ("fr", "text/vtt"),
        ("ar", "text/vtt"),
    ]
    by_cid = {m["id"]: m for m in on_bluesky["media"]}
    for caption, data in zip(embed["captions"], (VTT_FR, VTT_AR), strict=True):
        stored = by_cid[caption["file"]["ref"]["$link"]]
        assert (stored["sha256"], stored["content_type"]) == (hashlib.sha256(data).hexdigest(), "text/vtt")
