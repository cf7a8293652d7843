"""The one rule on a thread's length (`NetworkOptions.max_thread_parts`, RELAIS_MAX_THREAD_PARTS):
every network that threads refuses a text needing more parts, naming itself, the parts and the
limit; networks that truncate are not concerned."""

from __future__ import annotations

import pytest

from shared.networks import NetworkOptions, render_for_network

# A paragraph that fits alone in one part of the network but never beside another one.
PARAGRAPH_SIZE = {"x": 250, "mastodon": 400, "bluesky": 250, "threads": 400}


def paragraphs(count: int, size: int) -> str:
    return "\n\n".join(
        (f"Paragraphe {n:02d} : " + "emploi " * size)[:size].rstrip() for n in range(1, count + 1)
    )


@pytest.mark.parametrize("network", sorted(PARAGRAPH_SIZE))
def test_a_thread_over_the_limit_is_refused_and_at_the_limit_is_sent(network: str) -> None:
    size = PARAGRAPH_SIZE[network]
    over = render_for_network(network, paragraphs(11, size))
    assert over.parts == []
    assert [e.code for e in over.errors] == ["too_many_parts"]
    message = over.errors[0].message
    assert message.startswith(f"{network}:") and "11 parts" in message and "limit of 10" in message

    assert len(render_for_network(network, paragraphs(10, size)).parts) == 10
    relaxed = render_for_network(network, paragraphs(11, size), options=NetworkOptions(max_thread_parts=11))
    assert relaxed.errors == [] and len(relaxed.parts) == 11


def test_a_smaller_limit_applies_too() -> None:
    rendering = render_for_network("x", paragraphs(3, 250), options=NetworkOptions(max_thread_parts=2))
    assert [e.code for e in rendering.errors] == ["too_many_parts"]
    assert "3 parts" in rendering.errors[0].message and "limit of 2" in rendering.errors[0].message


def test_networks_that_truncate_are_not_concerned() -> None:
    rendering = render_for_network("linkedin", paragraphs(30, 250))
    assert rendering.errors == [] and len(rendering.parts) == 1
