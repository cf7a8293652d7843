"""The year benchmark, short (bench/bench_inbox_year.py): 150 questions of 2025 to two agencies (one in
France, one in Morocco), through the real services, answered by the seeded agents.

The policy, written by hand: every reply is dated by the network exactly as its agent's model says
(the sandbox's scripted clock, carried by the dispatcher as `DeliveryUpdated.published_at`), the hub's
figures equal the ones computed from the raw events, and the model's shape shows: some answers late,
some after hours, some never, so that not every question is answered within the target.
"""

from __future__ import annotations

from pathlib import Path

from bench.bench_inbox_year import AGENCIES, overall, run_year


def test_a_short_year_is_reported_as_the_raw_events_say(tmp_path: Path) -> None:
    agencies = [AGENCIES[0], AGENCIES[4]]  # fr-metropole, ma
    run = run_year(150, agencies, tmp_path, timeout=120)

    kinds = {
        kind: sum(q.kind == kind for q in run.asked) for kind in ("on_time", "late", "after_hours", "never")
    }
    assert all(kinds.values()), kinds
    answered = [q for q in run.asked if q.answered is not None]
    assert len(run.dated) == len(answered)
    for post_id, (agent, network) in run.dated.items():
        assert network == agent, post_id  # to the millisecond, as the agent answered
    assert run.problems == []
    total = overall(run.mine)
    assert (total.questions, total.answered) == (150, len(answered))
    assert 0 < total.within_target < total.answered
    assert {agency for agency, _ in run.system} == {a.agency for a in agencies}
