"""Retired networks are refused with the reason and the closure date."""

from __future__ import annotations

import pytest

from shared.networks import RETIRED_NETWORKS, render_for_network


@pytest.mark.parametrize(
    ("network", "date"),
    [("google_plus", "2019-04-02"), ("viadeo", "2016-11-29"), ("xing", "2016/17")],
)
def test_retired_network_is_refused_with_reason_and_date(network: str, date: str) -> None:
    rendering = render_for_network(network, "Forum emploi", link="https://francetravail.fr/forum")
    assert rendering.parts == [] and not rendering.fits
    assert [e.code for e in rendering.errors] == ["network_retired"]
    assert date in rendering.errors[0].message
    assert RETIRED_NETWORKS[network] in rendering.errors[0].message


def test_xing_offers_its_share_link() -> None:
    rendering = render_for_network("xing", "Forum", link="https://francetravail.fr/forum?id=1&x=2")
    expected = (
        "https://www.xing.com/spi/shares/new?url=https%3A%2F%2Ffrancetravail.fr%2Fforum%3Fid%3D1%26x%3D2"
    )
    assert rendering.share_url == expected
    assert expected in rendering.errors[0].message
    assert render_for_network("google_plus", "Forum", link="https://francetravail.fr").share_url is None
