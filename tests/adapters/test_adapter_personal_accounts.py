"""Adapters posting as an advocate's own account (#16 item 3), against the emulators: the sandbox's
OAuth token `sbx-<network>-<handle>` is that account's, and a LinkedIn member posts as her own
person URN only (the registry's handle for her page is `urn:li:person:<id>`)."""

from __future__ import annotations

import aiohttp
import pytest
from adapter_kit import Received, page

from services.dispatcher.adapters import DeliveryError
from services.dispatcher.adapters.linkedin import LinkedInAdapter


async def test_a_linkedin_member_posts_as_her_own_person_urn(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    member = page("linkedin", "urn:li:person:amina42", base_url, token="sbx-linkedin-amina42")
    publication = await LinkedInAdapter(http).publish(
        member, ["Le forum de l'emploi, jeudi"], idempotency_key="s"
    )

    [post] = await received(network="linkedin")
    assert post["body"]["author"] == "urn:li:person:amina42"
    assert publication.remote_id == post["remote_id"]


@pytest.mark.parametrize("author", ["urn:li:person:bruno7", "urn:li:organization:81000001"])
async def test_a_members_token_does_not_post_as_another_member_or_an_organization(
    http: aiohttp.ClientSession, base_url: str, received: Received, author: str
) -> None:
    other = page("linkedin", author, base_url, token="sbx-linkedin-amina42")
    with pytest.raises(DeliveryError) as caught:
        await LinkedInAdapter(http).publish(other, ["Le forum de l'emploi, jeudi"], idempotency_key="s")

    assert caught.value.kind == "auth"
    assert await received(network="linkedin") == []
