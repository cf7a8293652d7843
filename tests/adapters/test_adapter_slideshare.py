"""The SlideShare adapter against the sandbox's API v2 emulator, over real HTTP.

Expected answers come from the API v2 documentation (see services/dispatcher/adapters/
slideshare.py): the signed parameters, the upload's fields, `get_slideshow`'s Status 0–3 and the
`SlideShareServiceError` codes; nothing is recorded from today's responses.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import aiohttp
import pytest
from adapter_kit import Arm, Received

from services.dispatcher.adapters.base import DeliveryError, Media, PageAccount
from services.dispatcher.adapters.slideshare import SlideShareAdapter, _error, _xml, api_hash
from services.dispatcher.adapters.transport import Reply
from services.sandbox import slideshare as emulator
from tests.documents import odp, pdf, pptx, truncated_pdf

ACCOUNT = "anapec"
DESCRIPTION = "Forum de l'emploi à Casablanca\nLes offres de la semaine #emploi #Anapec"
PDF = "application/pdf"


def page(base_url: str, **overrides: str) -> PageAccount:
    credentials = {
        "api_key": "sbx-slideshare-relais",
        "shared_secret": "sbx-secret-relais",
        "username": ACCOUNT,
        "password": f"sbx-slideshare-{ACCOUNT}",
        **overrides,
    }
    return PageAccount(
        f"ma-{ACCOUNT}", "slideshare", ACCOUNT, {k: v for k, v in credentials.items() if v}, base_url
    )


def document(data: bytes, mime: str = PDF) -> Media:
    return Media("document", data=data, mime_type=mime, id="forum-2026")


def adapter(http: aiohttp.ClientSession, wait: float = 10.0) -> SlideShareAdapter:
    return SlideShareAdapter(http, conversion_wait=wait, poll_every=0.1)


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
        b"<SlideShowUploaded><SlideShowID>&b;</SlideShowID></SlideShowUploaded>",
        b'<?xml version="1.0"?><!doctype x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        b"<SlideShowUploaded><SlideShowID>&e;</SlideShowID></SlideShowUploaded>",
    ],
    ids=["entity-expansion", "external-entity"],
)
def test_an_answer_declaring_entities_is_never_expanded(body: bytes) -> None:
    reply = Reply(200, {}, body)
    assert _xml(reply) is None
    refused = _error(reply, [])
    assert refused.kind == "permanent" and "passwd" not in refused.message.replace("file:///etc/passwd", "")


def test_the_hash_is_sha1_of_the_shared_secret_then_the_timestamp() -> None:
    # API v2 "API Validation": SHA1(sharedsecret + timestamp); the order matters.
    assert api_hash("s3cr3t", "1700000000") == hashlib.sha1(b"s3cr3t1700000000").hexdigest()
    assert api_hash("s3cr3t", "1700000000") != hashlib.sha1(b"1700000000s3cr3t").hexdigest()


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        (pdf(), PDF),
        (pptx(), "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
        (odp(), "application/vnd.oasis.opendocument.presentation"),
    ],
    ids=["pdf", "pptx", "odp"],
)
async def test_a_presentation_is_uploaded_then_published_once_converted(
    http: aiohttp.ClientSession,
    base_url: str,
    received: Received,
    requests_seen: list[str],
    data: bytes,
    mime: str,
) -> None:
    started = time.monotonic()
    publication = await adapter(http).publish(
        page(base_url), [DESCRIPTION], idempotency_key="k1", media=[document(data, mime)]
    )

    # Published only once SlideShare says "converted" (Status 2), which takes the emulator's time.
    assert time.monotonic() - started >= emulator.CONVERTED_AFTER
    assert publication.url == f"https://www.slideshare.net/{ACCOUNT}/{publication.remote_id}"
    assert publication.part_ids == (publication.remote_id,)
    [post] = await received(network="slideshare")
    assert post["remote_id"] == publication.remote_id and post["text"] == DESCRIPTION
    body: dict[str, Any] = post["body"]
    assert body["slideshow_title"] == "Forum de l'emploi à Casablanca"
    assert body["slideshow_description"] == DESCRIPTION
    assert body["slideshow_tags"] == "emploi,Anapec"
    assert body["username"] == ACCOUNT and body["api_key"] == "sbx-slideshare-relais"
    assert "password" not in body and "hash" not in body  # the emulator keeps no secret
    [stored] = post["media"]
    assert stored["sha256"] == hashlib.sha256(data).hexdigest() and stored["content_type"] == mime
    uploads = [r for r in requests_seen if "upload_slideshow" in r]
    polls = [r for r in requests_seen if "get_slideshow?" in r]
    assert len(uploads) == 1 and len(polls) >= 2  # queued/converting, then converted
    # Reads are signed but carry no password: only the upload acts for the user.
    assert all("hash=" in r and "api_key=" in r and "password" not in r for r in polls)


async def test_a_conversion_that_fails_ends_the_delivery_with_the_reason(
    http: aiohttp.ClientSession, base_url: str, received: Received, requests_seen: list[str]
) -> None:
    with pytest.raises(DeliveryError) as failed:
        await adapter(http).publish(
            page(base_url), [DESCRIPTION], idempotency_key="k1", media=[document(truncated_pdf())]
        )

    assert failed.value.kind == "permanent" and failed.value.network_code == "conversion_failed"
    assert "could not convert the presentation" in failed.value.message
    [post] = await received(network="slideshare")
    assert failed.value.part_ids == (post["remote_id"],)
    assert len([r for r in requests_seen if "upload_slideshow" in r]) == 1


async def test_a_conversion_still_running_is_checked_again_later_without_a_second_upload(
    http: aiohttp.ClientSession, base_url: str, received: Received, requests_seen: list[str]
) -> None:
    slow = adapter(http, wait=0.0)
    with pytest.raises(DeliveryError) as waiting:
        await slow.publish(page(base_url), [DESCRIPTION], idempotency_key="k1", media=[document(pdf())])
    assert waiting.value.kind == "transient" and waiting.value.network_code in ("status_0", "status_1")
    [slideshow_id] = waiting.value.part_ids

    # The next attempt is handed the id the delivery remembered: it only watches the conversion.
    publication = await adapter(http).publish(
        page(base_url), [DESCRIPTION], idempotency_key="k1", media=[document(pdf())], done=[slideshow_id]
    )
    assert publication.remote_id == slideshow_id
    assert len(await received(network="slideshare")) == 1
    assert len([r for r in requests_seen if "upload_slideshow" in r]) == 1


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"shared_secret": "not-the-secret"}, "1"),  # Failed API validation
        ({"api_key": "someone-elses-key"}, "1"),
        ({"password": "sbx-expired-anapec"}, "2"),  # Failed User authentication
        ({"username": "another-account"}, "2"),
    ],
)
async def test_wrong_keys_or_password_ask_for_a_reconnection_and_never_leak(
    http: aiohttp.ClientSession, base_url: str, received: Received, overrides: dict[str, str], code: str
) -> None:
    account = page(base_url, **overrides)
    with pytest.raises(DeliveryError) as refused:
        await adapter(http).publish(account, [DESCRIPTION], idempotency_key="k1", media=[document(pdf())])
    assert (refused.value.kind, refused.value.network_code) == ("auth", code)
    for secret in (account.credentials["shared_secret"], account.credentials["password"]):
        assert secret not in refused.value.message
    assert await received(network="slideshare") == []


@pytest.mark.parametrize("missing", ["api_key", "shared_secret", "password"])
async def test_missing_credentials_are_named_before_anything_is_sent(
    http: aiohttp.ClientSession, base_url: str, requests_seen: list[str], missing: str
) -> None:
    with pytest.raises(DeliveryError) as refused:
        await adapter(http).publish(
            page(base_url, **{missing: ""}), [DESCRIPTION], idempotency_key="k", media=[document(pdf())]
        )
    assert refused.value.kind == "auth" and missing in refused.value.message
    assert requests_seen == []


async def test_a_variant_without_a_presentation_is_refused_before_anything_is_sent(
    http: aiohttp.ClientSession, base_url: str, requests_seen: list[str]
) -> None:
    with pytest.raises(DeliveryError) as refused:
        await adapter(http).publish(page(base_url), [DESCRIPTION], idempotency_key="k1")
    assert refused.value.kind == "permanent" and requests_seen == []


@pytest.mark.parametrize(
    ("mode", "kind", "code"),
    [
        ("server_error", "transient", "503"),
        ("rate_limit", "transient", "99"),  # Account Exceeded Daily Limit
        ("expired_token", "auth", "2"),
        ("blocked", "permanent", "100"),
        ("invalid_content", "permanent", "7"),
    ],
)
async def test_each_fault_is_told_in_slideshares_error_codes(
    http: aiohttp.ClientSession, base_url: str, arm: Arm, mode: str, kind: str, code: str
) -> None:
    await arm("slideshare", ACCOUNT, mode)
    with pytest.raises(DeliveryError) as refused:
        await adapter(http).publish(
            page(base_url), [DESCRIPTION], idempotency_key="k1", media=[document(pdf())]
        )
    assert (refused.value.kind, refused.value.network_code) == (kind, code)
    assert refused.value.throttled == (mode == "rate_limit")


async def test_read_back_finds_a_converted_presentation_and_not_a_failed_one(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    since = time.time()
    slideshare = adapter(http)
    published = await slideshare.publish(
        page(base_url), [DESCRIPTION], idempotency_key="k1", media=[document(pdf())]
    )
    found = await slideshare.find(page(base_url), [DESCRIPTION], idempotency_key="k1", since=since)
    assert found is not None and found.remote_id == published.remote_id and found.url == published.url

    other = "Atelier CV à Rabat"
    with pytest.raises(DeliveryError):
        await slideshare.publish(
            page(base_url), [other], idempotency_key="k2", media=[document(truncated_pdf())]
        )
    assert await slideshare.find(page(base_url), [other], idempotency_key="k2", since=since) is None
