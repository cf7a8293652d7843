"""The adapter contract: the factory, the exceptions, and transport failures on every network."""

from __future__ import annotations

import aiohttp
import pytest
from adapter_kit import closed_port_url, media_for, page

from services.dispatcher.adapters import DeliveryError, PageAccount, UnknownOutcome, adapter_for
from shared.networks import KNOWN_NETWORKS, NETWORKS


def test_every_known_network_has_an_adapter() -> None:
    assert sorted(NETWORKS) == sorted(KNOWN_NETWORKS)


@pytest.mark.parametrize("network", NETWORKS)
async def test_factory_builds_each_networks_adapter(network: str) -> None:
    async with aiohttp.ClientSession() as http:
        assert adapter_for(network, http).network == network


async def test_factory_refuses_unknown_networks() -> None:
    async with aiohttp.ClientSession() as http:
        with pytest.raises(ValueError, match="google_plus"):
            adapter_for("google_plus", http)


def test_an_account_never_shows_its_credentials() -> None:
    account = PageAccount("p", "x", "lyon", {"token": "s3cret-token"}, "http://127.0.0.1:1")
    assert "s3cret-token" not in repr(account)
    assert "s3cret-token" not in str(account)


def test_delivery_error_carries_its_fields() -> None:
    error = DeliveryError(
        "reconnect the page", network_code="190", kind="auth", retry_after=None, part_ids=("1",)
    )

    assert (str(error), error.message, error.network_code, error.kind, error.part_ids) == (
        "reconnect the page",
        "reconnect the page",
        "190",
        "auth",
        ("1",),
    )
    with pytest.raises(ValueError, match="kind"):
        DeliveryError("x", network_code=None, kind="maybe")


def test_unknown_outcome_is_not_a_delivery_error() -> None:
    assert not issubclass(UnknownOutcome, DeliveryError)
    assert UnknownOutcome("lost").part_ids == ()


@pytest.mark.parametrize("network", NETWORKS)
async def test_connection_refused_is_transient_on_every_network(network: str) -> None:
    async with aiohttp.ClientSession() as http:
        with pytest.raises(DeliveryError) as caught:
            await adapter_for(network, http).publish(
                page(network, "lyon", closed_port_url()),
                ["x"],
                idempotency_key="d",
                media=media_for(network, closed_port_url()),
            )

    assert caught.value.kind == "transient"
    assert "nothing was sent" in caught.value.message


@pytest.mark.parametrize("network", NETWORKS)
async def test_a_non_http_address_is_a_permanent_configuration_error(network: str) -> None:
    async with aiohttp.ClientSession() as http:
        with pytest.raises(DeliveryError) as caught:
            await adapter_for(network, http).publish(
                page(network, "lyon", "ftp://example.org"),
                ["x"],
                idempotency_key="d",
                media=media_for(network, "ftp://example.org"),
            )

    assert caught.value.kind == "permanent"
    assert "not a valid URL" in caught.value.message


@pytest.mark.parametrize("network", NETWORKS)
async def test_nothing_to_publish_is_permanent(network: str, base_url: str) -> None:
    async with aiohttp.ClientSession() as http:
        with pytest.raises(DeliveryError) as caught:
            await adapter_for(network, http).publish(page(network, "lyon", base_url), [], idempotency_key="d")
    assert caught.value.kind == "permanent"
