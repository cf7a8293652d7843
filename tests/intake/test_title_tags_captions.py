"""A post's title, tags and a video's captions at the agency's endpoints, against a policy written
here by hand:

- `title`: optional plain text on one line, at most 1,000 characters, with the page variables the
  text may use; a title with markup (`<`, `>`), a control character or an unknown `{variable}` is
  refused (422, field `title`), never rewritten; a wrong type is a 400.
- `tags`: optional list of at most 50 strings, each 1-100 characters, without a comma, markup or
  control character (422, field `tags[i]`); duplicates are dropped.
- Per network: SlideShare and YouTube send them (SlideShare: at most 20 tags; YouTube: a title of 100
  characters, tags of 500 characters in all, counted with commas and quotes), every other network
  ignores them and the preview says so in its `notices`.
- `captions`: a video's `[{lang, media_id}]`, each a WebVTT upload (`text/vtt`, at most 20,000 bytes,
  Bluesky's lexicon) of this agency; a caption that is not VTT, one uploaded by another agency, a
  caption on an image, and a VTT file attached as media of its own are refused (422, naming the field).
"""

from __future__ import annotations

from typing import Any

import pytest

from services.intake.keys import DATABASE
from services.intake.store import unrelayed_posts
from shared.networks.facts import CAPTION_MAX_BYTES
from tests.documents import pdf
from tests.intake.conftest import MP4, Client, auth, form, png, stored_posts, upload

VTT = b"WEBVTT\n\n00:00.000 --> 00:02.000\nBonjour et bienvenue au forum\n"
VTT_AR = "WEBVTT\n\n00:00.000 --> 00:02.000\nمرحبا بكم في المنتدى\n".encode()


async def post(client: Client, token: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = await client.post("/v1/posts", json=body, headers=auth(token))
    return response.status, dict(await response.json())


async def preview(client: Client, token: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = await client.post("/v1/preview", json=body, headers=auth(token))
    return response.status, dict(await response.json())


async def document_post(client: Client, token: str, **fields: Any) -> dict[str, Any]:
    document = await upload(client, token, pdf())
    return {
        "text": "Forum de l'emploi\nLe programme #emploi",
        "networks": ["slideshare"],
        "media": [{"id": document["id"], "alt": "Programme"}],
        **fields,
    }


# (title or tags as sent, expected status, code, field): written from the policy above.
REFUSED: list[tuple[dict[str, Any], int, str, str]] = [
    ({"title": "<script>alert(1)</script>"}, 422, "invalid_title", "title"),
    ({"title": "Forum > salon"}, 422, "invalid_title", "title"),
    ({"title": "Forum\nemploi"}, 422, "invalid_title", "title"),
    ({"title": "Forum\x00emploi"}, 422, "invalid_title", "title"),
    ({"title": "Forum\u2028emploi"}, 422, "invalid_title", "title"),
    ({"title": "   "}, 422, "empty_title", "title"),
    ({"title": "x" * 1_001}, 422, "title_too_long", "title"),
    ({"title": "Forum {inconnue}"}, 422, "unknown_variable", "title"),
    ({"title": 42}, 400, "invalid_type", "title"),
    ({"title": ["Forum"]}, 400, "invalid_type", "title"),
    ({"tags": "emploi"}, 400, "invalid_type", "tags"),
    ({"tags": ["emploi", "forum", 3]}, 400, "invalid_type", "tags[2]"),
    ({"tags": ["emploi", "forum", "a,b"]}, 422, "invalid_tag", "tags[2]"),
    ({"tags": ["emploi", "forum", "<b>"]}, 422, "invalid_tag", "tags[2]"),
    ({"tags": ["emploi", "forum", "\t"]}, 422, "invalid_tag", "tags[2]"),
    ({"tags": ["emploi", "forum", "x\ny"]}, 422, "invalid_tag", "tags[2]"),
    ({"tags": ["emploi", "x" * 101]}, 422, "invalid_tag", "tags[1]"),
    ({"tags": [f"tag{i}" for i in range(10_000)]}, 422, "too_many_tags", "tags"),
    ({"tags": [f"tag{i}" for i in range(51)]}, 422, "too_many_tags", "tags"),
]


@pytest.mark.parametrize(("fields", "status", "code", "field"), REFUSED)
async def test_a_bad_title_or_tags_is_refused_naming_the_field(
    client: Client, tokens: dict[str, str], fields: dict[str, Any], status: int, code: str, field: str
) -> None:
    body = await document_post(client, tokens["advisor"], **fields)
    for send in (post, preview):
        answered, error = await send(client, tokens["advisor"], body)
        assert (answered, error["error"]["code"], error["error"]["field"]) == (status, code, field), error
    assert stored_posts(client) == 0


async def test_slideshare_s_own_tag_cap_refuses_the_post_and_the_preview_shows_why(
    client: Client, tokens: dict[str, str]
) -> None:
    """20 by default (`SlideShareOptions.max_tags`), under the generic bound of 50."""
    body = await document_post(client, tokens["advisor"], tags=[f"tag{i}" for i in range(21)])
    status, error = await post(client, tokens["advisor"], body)
    assert (status, error["error"]["code"], error["error"]["field"]) == (422, "too_many_tags", "tags")
    status, shown = await preview(client, tokens["advisor"], body)
    assert status == 200 and [e["code"] for e in shown["variants"][0]["errors"]] == ["too_many_tags"]
    assert shown["variants"][0]["parts"] == []


async def test_youtube_counts_its_tags_as_it_documents_them(client: Client, tokens: dict[str, str]) -> None:
    """500 characters in all: commas between tags, quotes around a tag with a space."""
    video = await upload(client, tokens["advisor"], MP4)
    base = {
        "text": "Replay du webinaire",
        "networks": ["youtube"],
        "media": [{"id": video["id"], "alt": "Replay"}],
    }
    # 24 tags of 20 characters: 480 + 23 commas = 503 > 500.
    status, error = await post(
        client, tokens["advisor"], {**base, "tags": [f"{i:02d}" + "x" * 18 for i in range(24)]}
    )
    assert (status, error["error"]["code"], error["error"]["field"]) == (422, "tags_too_long", "tags")
    # 23 of them: 460 + 22 = 482, but with a space each is quoted: 23 * 2 more = 528 > 500.
    spaced = [f"{i:02d} " + "x" * 17 for i in range(23)]
    status, error = await post(client, tokens["advisor"], {**base, "tags": spaced})
    assert (status, error["error"]["code"], error["error"]["field"]) == (422, "tags_too_long", "tags")
    status, accepted = await post(
        client, tokens["advisor"], {**base, "tags": [f"{i:02d}" + "x" * 18 for i in range(23)]}
    )
    assert status == 202, accepted


async def test_the_title_and_tags_are_stored_relayed_and_shown(
    client: Client, tokens: dict[str, str]
) -> None:
    body = await document_post(
        client, tokens["advisor"], title=" Forum de l'emploi 2026 ", tags=["emploi", " forum ", "emploi"]
    )
    status, accepted = await post(client, tokens["advisor"], body)
    assert status == 202, accepted
    shown = await (await client.get(f"/v1/posts/{accepted['id']}", headers=auth(tokens["advisor"]))).json()
    assert (shown["title"], shown["tags"]) == ("Forum de l'emploi 2026", ["emploi", "forum"])
    [queued] = unrelayed_posts(client.app[DATABASE])
    assert (queued.title, queued.tags) == ("Forum de l'emploi 2026", ["emploi", "forum"])


async def test_the_preview_shows_each_network_what_it_sends_and_what_it_ignores(
    client: Client, tokens: dict[str, str]
) -> None:
    video = await upload(client, tokens["advisor"], MP4)
    caption = await upload(client, tokens["advisor"], VTT)
    media = [{"id": video["id"], "alt": "Replay", "captions": [{"lang": "fr", "media_id": caption["id"]}]}]
    status, shown = await preview(
        client,
        tokens["advisor"],
        {
            "text": "Replay du webinaire #emploi",
            "networks": ["youtube", "bluesky", "x"],
            "media": media,
            "title": "Replay : les métiers qui recrutent",
            "tags": ["emploi", "webinaire"],
        },
    )
    assert status == 200, shown
    youtube, bluesky, x = shown["variants"]
    assert (youtube["title"], youtube["tags"], youtube["notices"]) == (
        "Replay : les métiers qui recrutent",
        ["emploi", "webinaire"],
        [{"code": "captions_not_sent", "message": youtube["notices"][0]["message"]}],
    )
    assert (bluesky["title"], bluesky["tags"]) == (None, [])
    assert [n["code"] for n in bluesky["notices"]] == ["title_not_sent", "tags_not_sent"]
    assert [n["code"] for n in x["notices"]] == ["title_not_sent", "tags_not_sent", "captions_not_sent"]


async def test_slideshare_derives_what_is_not_given(client: Client, tokens: dict[str, str]) -> None:
    status, shown = await preview(client, tokens["advisor"], await document_post(client, tokens["advisor"]))
    assert status == 200, shown
    [slideshare] = shown["variants"]
    assert (slideshare["title"], slideshare["tags"], slideshare["notices"]) == (
        "Forum de l'emploi",
        ["emploi"],
        [],
    )


async def test_a_video_carries_its_captions_to_the_relay(client: Client, tokens: dict[str, str]) -> None:
    video = await upload(client, tokens["advisor"], MP4)
    french, arabic = (
        await upload(client, tokens["advisor"], VTT),
        await upload(client, tokens["advisor"], VTT_AR),
    )
    assert french["content_type"] == "text/vtt"
    captions = [{"lang": "fr", "media_id": french["id"]}, {"lang": "ar", "media_id": arabic["id"]}]
    body = {
        "text": "Replay du webinaire",
        "networks": ["bluesky"],
        "media": [{"id": video["id"], "alt": "Replay", "captions": captions}],
    }
    status, accepted = await post(client, tokens["advisor"], body)
    assert status == 202, accepted
    shown = await (await client.get(f"/v1/posts/{accepted['id']}", headers=auth(tokens["advisor"]))).json()
    assert shown["media"][0]["captions"] == captions
    [queued] = unrelayed_posts(client.app[DATABASE])
    [(fr, ar)] = [tuple(ref.captions) for ref in queued.media]
    assert (fr.lang, fr.id, fr.size, ar.lang, ar.id) == ("fr", french["id"], len(VTT), "ar", arabic["id"])


async def test_caption_files_are_webvtt_within_bluesky_s_size(client: Client, tokens: dict[str, str]) -> None:
    too_big = VTT + b"x" * (CAPTION_MAX_BYTES - len(VTT) + 1)
    response = await client.post("/v1/media", data=form(too_big), headers=auth(tokens["advisor"]))
    assert response.status == 413 and (await response.json())["error"]["code"] == "media_too_large"
    at_cap = VTT + b"x" * (CAPTION_MAX_BYTES - len(VTT))
    assert (await upload(client, tokens["advisor"], at_cap))["size"] == CAPTION_MAX_BYTES
    for not_text in (VTT + b"\xff\xfe", VTT + b"\x00"):
        response = await client.post("/v1/media", data=form(not_text), headers=auth(tokens["advisor"]))
        assert response.status == 415 and (await response.json())["error"]["code"] == "unsupported_media_type"
    response = await client.post("/v1/media", data=form(b"WEBVTTX\n"), headers=auth(tokens["advisor"]))
    assert response.status == 415


async def test_hostile_captions_are_refused_naming_the_field(client: Client, tokens: dict[str, str]) -> None:
    token = tokens["advisor"]
    video, image = await upload(client, token, MP4), await upload(client, token, png())
    caption = await upload(client, token, VTT)
    # A caption uploaded by another agency (a row of its own in this node's store).
    client.app[DATABASE].table("media").insert(
        {
            "id": "rennes-sud-captions",
            "agency": "rennes-sud",
            "content_type": "text/vtt",
            "size": len(VTT),
            "sha256": "0" * 64,
            "uploaded_by": "yann",
            "created_at": "2026-01-01T00:00:00+00:00",
        }
    )

    def body(media: list[dict[str, Any]]) -> dict[str, Any]:
        return {"text": "Replay", "networks": ["bluesky"], "media": media}

    def with_captions(*captions: dict[str, Any], on: str = video["id"]) -> dict[str, Any]:
        return body([{"id": on, "alt": "Replay", "captions": list(captions)}])

    cases: list[tuple[dict[str, Any], int, str, str]] = [
        (
            with_captions({"lang": "fr", "media_id": image["id"]}),
            422,
            "caption_not_vtt",
            "media[0].captions[0].media_id",
        ),
        (
            with_captions({"lang": "fr", "media_id": "rennes-sud-captions"}),
            422,
            "unknown_media",
            "media[0].captions[0].media_id",
        ),
        (
            with_captions({"lang": "fr", "media_id": "nope"}),
            422,
            "unknown_media",
            "media[0].captions[0].media_id",
        ),
        (
            with_captions({"lang": "fr", "media_id": caption["id"]}, on=image["id"]),
            422,
            "captions_not_on_video",
            "media[0].captions",
        ),
        (body([{"id": caption["id"], "alt": "Sous-titres"}]), 422, "caption_not_media", "media[0].id"),
        (
            with_captions({"lang": "<script>", "media_id": caption["id"]}),
            422,
            "invalid_language",
            "media[0].captions[0].lang",
        ),
        (
            with_captions({"lang": "fr", "media_id": caption["id"]}, {"lang": "FR", "media_id": "other"}),
            422,
            "duplicate_caption",
            "media[0].captions[1].lang",
        ),
        (
            with_captions(
                {"lang": "fr", "media_id": caption["id"]}, {"lang": "ar", "media_id": caption["id"]}
            ),
            422,
            "duplicate_media",
            "media[0].captions[1].media_id",
        ),
        (
            with_captions({"lang": "fr", "media_id": video["id"]}),
            422,
            "duplicate_media",
            "media[0].captions[0].media_id",
        ),
        (with_captions({"lang": "fr"}), 400, "missing_field", "media[0].captions[0].media_id"),
        (
            with_captions({"lang": "fr", "media_id": caption["id"], "kind": "x"}),
            400,
            "unknown_field",
            "media[0].captions[0].kind",
        ),
        (
            body([{"id": video["id"], "alt": "Replay", "captions": "fr"}]),
            400,
            "invalid_type",
            "media[0].captions",
        ),
        (
            with_captions(*[{"lang": f"l{i:02d}"[:3], "media_id": caption["id"]} for i in range(21)]),
            422,
            "too_many_captions",
            "media[0].captions",
        ),
    ]
    for sent, status, code, field in cases:
        answered, error = await post(client, token, sent)
        assert (answered, error["error"]["code"], error["error"]["field"]) == (status, code, field), (
            sent,
            error,
        )
    assert stored_posts(client) == 0


async def test_a_medium_uploaded_by_another_agency_is_unknown_here(
    client: Client, tokens: dict[str, str]
) -> None:
    """The class of the caption case above: every media id is looked up among this agency's uploads."""
    image = png()
    client.app[DATABASE].table("media").insert(
        {
            "id": "rennes-sud-photo",
            "agency": "rennes-sud",
            "content_type": "image/png",
            "size": len(image),
            "sha256": "0" * 64,
            "uploaded_by": "yann",
            "created_at": "2026-01-01T00:00:00+00:00",
        }
    )
    body = {"text": "Forum", "networks": ["x"], "media": [{"id": "rennes-sud-photo", "alt": "Affiche"}]}
    for send in (post, preview):
        status, error = await send(client, tokens["advisor"], body)
        assert (status, error["error"]["code"], error["error"]["field"]) == (
            422,
            "unknown_media",
            "media[0].id",
        )
    assert stored_posts(client) == 0
