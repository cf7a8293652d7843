"""The inbox's settings at the hub: the response target, when a waiting conversation escalates, and
the calendars whose business hours run its clock."""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from shared.business_hours import DEFAULT_CALENDARS, Calendars, load_calendars, parse_duration
from shared.schemas import ESCALATION_LEVELS

__all__ = ["InboxSettings"]

DEFAULT_TARGET = timedelta(hours=4)
DEFAULT_ESCALATE_AT = (0.5, 0.9)
DEFAULT_ESCALATE_EVERY = 30.0  # seconds between two looks for conversations to escalate


@dataclass(frozen=True)
class InboxSettings:
    target: timedelta = DEFAULT_TARGET  # RELAIS_INBOX_TARGET: a first response within it, in business time
    # RELAIS_INBOX_ESCALATE_AT: the fractions of the target at which a conversation still waiting goes
    # to each of ESCALATION_LEVELS in turn (the region's moderators, then the hub team).
    escalate_at: tuple[float, ...] = DEFAULT_ESCALATE_AT
    escalate_every: float = DEFAULT_ESCALATE_EVERY  # RELAIS_INBOX_ESCALATE_EVERY, in seconds
    calendars: Calendars = field(default=DEFAULT_CALENDARS)  # RELAIS_CALENDARS_FILE

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> InboxSettings:
        return cls(
            target=_target(env.get("RELAIS_INBOX_TARGET") or "4h"),
            escalate_at=escalation_fractions(env.get("RELAIS_INBOX_ESCALATE_AT") or "0.5,0.9"),
            escalate_every=_seconds(env.get("RELAIS_INBOX_ESCALATE_EVERY") or str(DEFAULT_ESCALATE_EVERY)),
            calendars=load_calendars(env),
        )

    def levels(self) -> list[tuple[str, float]]:
        """(level, fraction of the target) in the order a waiting conversation reaches them."""
        return list(zip(ESCALATION_LEVELS, self.escalate_at, strict=True))


def _target(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise ValueError(f"RELAIS_INBOX_TARGET: {exc}") from None


def escalation_fractions(text: str) -> tuple[float, ...]:
    """One fraction per escalation level, increasing, each above 0 and at most 1: `0.5,0.9`."""
    problem = (
        f"RELAIS_INBOX_ESCALATE_AT: {len(ESCALATION_LEVELS)} increasing fractions of the target above 0"
        f" and at most 1, one per level ({', '.join(ESCALATION_LEVELS)}), like 0.5,0.9; got {text!r}"
    )
    try:
        fractions = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise ValueError(problem) from None
    increasing = all(a < b for a, b in itertools.pairwise(fractions))
    if (
        len(fractions) != len(ESCALATION_LEVELS)
        or not increasing
        or not 0 < fractions[0] <= fractions[-1] <= 1
    ):
        raise ValueError(problem)
    return fractions


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0
    if not 0 < seconds <= 3600:
        raise ValueError(f"RELAIS_INBOX_ESCALATE_EVERY: seconds, more than 0 and at most 3600; got {text!r}")
    return seconds
