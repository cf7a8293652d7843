"""The events that make and unmake an advocate's personal accounts, read as the dispatcher and the
federation both must (#16 items 2 and 3): what a subject and its body say, or why they are refused.

NATS pins a subject to its publisher's agency (`advocacy.<agency>.<advocate>.<event>`), not the
body: a body naming another agency or advocate is refused. A node may publish `app_password`, and
it is taken for Bluesky alone (an app password, sealed at the node); `connected` comes from the
hub's OAuth callback, for the networks it connects (`OAUTH_NETWORKS`).
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.advocacy.accounts import is_advocate_id
from shared.advocacy.oauth import OAUTH_NETWORKS
from shared.ids import utc_now
from shared.schemas import (
    AdvocateAccountStatus,
    AdvocateConnected,
    AdvocateDisconnected,
    AdvocateForgotten,
    AdvocateOptedOut,
    ErrorReport,
    decode,
)

__all__ = ["APP_PASSWORD_NETWORKS", "AccountEvent", "RefusedEvent", "account_event", "account_status"]

APP_PASSWORD_NETWORKS = ("bluesky",)

AccountMessage = AdvocateConnected | AdvocateDisconnected | AdvocateOptedOut | AdvocateForgotten
_KINDS: dict[str, type[AccountMessage]] = {
    "connected": AdvocateConnected,
    "app_password": AdvocateConnected,
    "disconnected": AdvocateDisconnected,
    "opted_out": AdvocateOptedOut,
    "forgotten": AdvocateForgotten,
}


class RefusedEvent(ValueError):
    """Why an event is not taken (words for the log; never a sealed value)."""


@dataclass(frozen=True)
class AccountEvent:
    agency: str
    advocate: str
    event: str  # connected, app_password, disconnected, opted_out, forgotten
    message: AccountMessage

    @property
    def network(self) -> str | None:
        """The one account concerned; None when it is all of the advocate's (opted out, forgotten)."""
        return getattr(self.message, "network", None)


def account_event(subject: str, data: bytes) -> AccountEvent | None:
    """The event, None for another kind of advocacy event (enrolled, status), or `RefusedEvent`."""
    _, agency, advocate, event = subject.split(".")
    kind = _KINDS.get(event)
    if kind is None:
        return None
    message = decode(data, kind)
    if message.agency != agency or message.advocate != advocate or not is_advocate_id(advocate):
        raise RefusedEvent("the body names another agency or advocate")
    found = AccountEvent(agency, advocate, event, message)
    allowed = {"app_password": APP_PASSWORD_NETWORKS, "connected": OAUTH_NETWORKS}.get(event)
    if allowed is not None and found.network not in allowed:
        raise RefusedEvent(f"{event} is not taken for {found.network}")
    return found


def account_status(
    agency: str, advocate: str, network: str, status: str, error: str | None = None
) -> AdvocateAccountStatus:
    """What became of one advocate's account, as the dispatcher and the hub say it (never a value)."""
    return AdvocateAccountStatus(
        post_id="",
        agency=agency,
        occurred_at=utc_now(),
        advocate=advocate,
        network=network,
        status=status,
        error=ErrorReport(message=error) if error else None,
    )
