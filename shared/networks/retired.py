"""Networks that no longer take posts: refused with the reason and the date they closed."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from .model import Rendering, RuleError

__all__ = ["RETIRED", "RetiredNetwork", "render_retired"]


@dataclass(frozen=True, slots=True)
class RetiredNetwork:
    """A network that closed, when, and what remains of it (XING's share link)."""

    name: str
    closed: str
    reason: str
    share_url: str | None = None

    def share_link(self, link: str | None) -> str | None:
        """The share link for `link`, when the network still offers one."""
        if not self.share_url or not link:
            return None
        return self.share_url.format(url=quote(link, safe=""))


RETIRED: dict[str, RetiredNetwork] = {
    network.name: network
    for network in (
        RetiredNetwork(
            "google_plus",
            "2019-04-02",
            "Google+ closed: its APIs were switched off on 2019-03-07 and the service on 2019-04-02",
        ),
        RetiredNetwork(
            "viadeo",
            "2016-12",
            "Viadeo has no posting API (receivership 2016-11-29, sold December 2016)",
        ),
        RetiredNetwork(
            "xing",
            "2017",
            "XING closed its posting API in 2016/17; only https://www.xing.com/spi/shares/new?url=… remains",
            share_url="https://www.xing.com/spi/shares/new?url={url}",
        ),
    )
}


def render_retired(network: RetiredNetwork, link: str | None) -> Rendering:
    """A refusal naming the closure; for XING, with the share link a person can still use."""
    share = network.share_link(link)
    message = network.reason if not share else f"{network.reason}: share by hand with {share}"
    error = RuleError("network_retired", message)
    return Rendering(network.name, "characters", 0, 0, False, [], [error], share_url=share)
