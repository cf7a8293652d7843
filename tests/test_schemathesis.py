"""Schema-driven fuzzing (schemathesis 4) of the intake's and the hub's JSON APIs, as real processes:
a real nats-server, the federation (the page registry), the formatter, the hub and one agency node,
each on its own SQLite files, over real HTTP on loopback, with valid tokens (an advisor of the
agency at its node, an admin at the hub).

Every operation of each service's own `/v1/openapi.json` (the hub's dashboard pages and forms
aside: HTML, sessions and CSRF) gets at least EXAMPLES valid requests and EXAMPLES invalid ones, and
every answer goes through all of schemathesis's checks (no server error; status, content type,
headers and body as documented; invalid data refused; a token not ignored…), except its
`positive_data_acceptance`, replaced by a stricter one: a valid request may be refused only for a
reason listed in `ALLOWED_REFUSALS`, each with why the document cannot say it. Anything else is a
finding: tighten the document (a pattern, an enum, a length) or fix the handler.

The counts (operations, cases, failures) are printed, so CI logs show what ran.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.core.failures import FailureGroup

from tests.harness import RelaisSystem, http

AGENCY = "lyon-part-dieu"
# Per operation and per mode (valid, invalid): 40 took 7 minutes of CI's 30 beside the suite;
# `RELAIS_FUZZ_EXAMPLES=200 pytest tests/test_schemathesis.py` explores further.
EXAMPLES = int(os.environ.get("RELAIS_FUZZ_EXAMPLES", "20"))

MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
KNOWN_POSTS = 5  # posts that exist, read through each route that reads one

# The only reasons a request the document calls valid may be refused: each depends on state the
# document cannot know (what exists, what was uploaded) or on a rule JSON Schema cannot express.
ALLOWED_REFUSALS: dict[str, str] = {
    "not_found": "an id the fuzzer made up: no such post, dead letter or file (state)",
    "not_queued": "a post that is not waiting for a moderator, or was already decided (state)",
    "already_decided": "a post (or dead letter) that already has its one decision (state: 409 names it)",
    "invalid_datetime": "a day past its month's end (30 February): calendar, not a pattern",
    "unknown_media": "a media id that was never uploaded at this agency (state)",
    "no_page_for_network": "the agency has no page on a chosen network (the registry: state)",
    "page_network_not_chosen": "a page on a network the post does not choose: relates two fields",
    "policy_network_not_chosen": "a policy for a network the post does not choose: relates two fields",
    "duplicate_media": "the same media id twice: uniqueness of one property across items",
    "idempotency_key_reused": "an Idempotency-Key the fuzzer already sent with another body (state)",
    "unknown_variable": "a {name} that is no page variable inside free text (needs a lookahead)",
    "invalid_saved_reply": "a {name} that is no saved-reply variable, or a lone brace, inside free text"
    " (needs a lookahead)",
    "unsupported_media_type": "an upload judged by its first bytes (magic numbers), or a network that"
    " takes no such file: per network rules",
    "media_too_large": "over the node's configured size, or a network's own limit (per network rules)",
    # The networks' rules: each one's weighted length (URLs counted as 23 on X, graphemes on Bluesky…),
    # thread limits, media counts per network, titles. The 422 names the network and the limit.
    "too_long": "over a network's length with the reject policy: the network's weighted count",
    "too_many_parts": "a thread longer than RELAIS_MAX_THREAD_PARTS: the network's weighted count",
    "too_many_media": "more attachments than a network takes, or a video mixed with images",
    "media_required": "a network that publishes only media (Instagram, YouTube)",
    "alt_text_too_long": "over a network's own alt-text limit",
    "content_warning_too_long": "a spoiler text that leaves no room on Mastodon",
    "empty_title": "YouTube's title comes from the text's first line",
    "title_too_long": "YouTube's title comes from the text's first line",
    "too_many_tags": "more tags than SlideShare takes (SlideShareOptions.max_tags): per network rules",
    "tags_too_long": "YouTube's tags in all, counted with commas and quotes: per network rules",
    "caption_not_vtt": "a caption's media id names an upload that is not WebVTT (state)",
    "caption_not_media": "a media id names a WebVTT upload, which is only a caption (state)",
    "captions_not_on_video": "captions on an upload that is not a video (state)",
    "duplicate_caption": "two caption files in one language (fr, FR): uniqueness across items",
    "invalid_period": "a report's month with from/to, from without to, an end not after the start: relates"
    " two fields",
    # Advocacy stories (services/hub/advocacy.py, shared/advocacy/stories.py).
    "unknown_topic": "a topic id the fuzzer made up (state)",
    "expiry_past": "an expiry already past (the clock: state)",
    "invalid_link": "an https:// address the URL grammar refuses (no host, a broken IPv6 literal)",
    "invalid_hashtag": "one hashtag by twitter-text's grammar (not all digits, no second #): a grammar",
    "does_not_fit": "a suggested text too long for a network once its link is tagged: per network rules",
    # Shares (services/intake/shares.py) and advocates (services/intake/advocates_api.py) at the node:
    # who the caller is and what the node holds now.
    "not_an_advocate": "the caller has not opted in, or opted out since (state)",
    "network_not_connected": "an advocate's account not connected on a chosen network (state)",
    "story_not_offered": "a story id the fuzzer made up, or not offered now (state)",
    "near_duplicate_text": "on X, a text near-identical to a suggested one: word similarity, not a schema",
    "instance_required": "Mastodon's connection needs an instance the others do not take: relates the"
    " path's network to a body field",
    "instance_not_taken": "an instance sent for X or LinkedIn: relates the path's network to a body field",
}

SERVED_CHECKS = [
    check for check in CHECKS.get_all() if getattr(check, "__name__", "") != "positive_data_acceptance"
]


@dataclass
class Tally:
    operations: int = 0
    cases: int = 0
    failures: dict[str, str] = field(default_factory=dict)  # one per (operation, kind): the first example
    statuses: dict[str, Counter[int]] = field(default_factory=dict)  # per operation, what it answered
    accepted: list[str] = field(default_factory=list)  # ids of the posts it accepted (202)

    def fail(self, key: str, detail: str) -> None:
        self.failures.setdefault(key, detail)


@pytest.fixture
def system(tmp_path: Path) -> Iterator[RelaisSystem]:
    relais = RelaisSystem(tmp_path, agencies=[AGENCY])
    try:
        relais.start("nats", "federation", "formatter", "hub", f"intake-{AGENCY}")
        yield relais
    finally:
        relais.stop()


def _fuzzed(path: str) -> bool:
    """The JSON API and health of each service; the hub's dashboard (HTML forms, sessions, the live
    feed that never ends) is covered by its own tests."""
    return path.startswith("/v1/") or path in ("/healthz", "/readyz")


def _refusal_code(response: Any) -> str:
    try:
        return str(json.loads(response.content)["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return ""


def fuzz(base_url: str, token: str, tally: Tally, known_posts: list[str]) -> None:
    """Every operation, valid and invalid requests; then the routes that read one post, with the
    ids of posts that exist (`known_posts`, and those accepted here), so real answers are checked."""
    status, document = http("GET", f"{base_url}/v1/openapi.json")
    assert status == 200, document
    schema = schemathesis.openapi.from_dict(document)
    headers = {"Authorization": f"Bearer {token}"}
    for result in schema.get_all_operations():
        operation = result.ok()
        if not _fuzzed(operation.path):
            continue
        tally.operations += 1
        # Schemathesis's coverage phase first: boundary values, missing parameters and credentials,
        # methods the route does not take.
        generation = schema.config.generation_for(operation=operation)
        for case in schema.iter_coverage_cases(
            operation, generation_modes=MODES, generation_config=generation
        ):
            _send(case, operation, base_url, headers, tally)
        for mode in MODES:
            _fuzz_operation(operation, mode, base_url, headers, tally)
        answered = sum(tally.statuses.get(operation.label, Counter()).values())
        has_inputs = bool(len(operation.body) or len(operation.path_parameters) or len(operation.query))
        if has_inputs and answered < EXAMPLES:  # an operation without inputs has only so many requests
            tally.fail(f"{operation.label}: {answered} cases", f"fewer than {EXAMPLES} generated")
        if "{post_id}" in operation.path:
            for post_id in (known_posts + tally.accepted)[-KNOWN_POSTS:]:
                _fuzz_operation(
                    operation,
                    GenerationMode.POSITIVE,
                    base_url,
                    headers,
                    tally,
                    {"post_id": post_id},
                    examples=3,
                )


def _fuzz_operation(
    operation: Any,
    mode: GenerationMode,
    base_url: str,
    headers: dict[str, str],
    tally: Tally,
    path_parameters: dict[str, str] | None = None,
    examples: int = EXAMPLES,
) -> None:
    @hypothesis.settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=False,  # each run explores new cases; a failure prints the seed that replays it
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
    def run(case: Any) -> None:
        _send(case, operation, base_url, headers, tally)

    try:
        run()
    except hypothesis.errors.Unsatisfiable:
        pass  # no invalid request exists for an operation without parameters or body


def _send(case: Any, operation: Any, base_url: str, headers: dict[str, str], tally: Tally) -> None:
    """One request, and every check on its answer; a failure is recorded, the run goes on."""
    mode = case.meta.generation.mode if case.meta is not None else GenerationMode.POSITIVE
    label = f"{case.method} {operation.path} [{mode.value}]"
    response = case.call(base_url=base_url, headers=headers, timeout=20)
    tally.cases += 1
    tally.statuses.setdefault(operation.label, Counter())[response.status_code] += 1
    if response.status_code == 202 and case.method == "POST" and operation.path == "/v1/posts":
        tally.accepted.append(json.loads(response.content)["id"])
    try:
        case.validate_response(
            response,
            checks=SERVED_CHECKS,
            headers=headers,
            transport_kwargs={"base_url": base_url, "headers": headers, "timeout": 20},
        )
    except FailureGroup as group:
        for failure in group.exceptions:
            tally.fail(f"{label} {failure.title}", f"{failure.message}\n    {case.as_curl_command(headers)}")
    if mode.is_positive and response.status_code >= 400:
        code = _refusal_code(response)
        if code not in ALLOWED_REFUSALS:
            tally.fail(
                f"{label} valid request refused: {response.status_code} {code}",
                f"{response.text[:300]}\n    {case.as_curl_command(headers)}",
            )


def test_the_apis_answer_every_generated_request_as_documented(
    system: RelaisSystem, capsys: pytest.CaptureFixture[str]
) -> None:
    load_all_checks()
    tallies = {"intake": Tally(), "hub": Tally()}
    fuzz(system.intake_url(AGENCY), system.token("advisor", AGENCY), tallies["intake"], [])
    # The hub knows the posts the agency relayed: its views of them are checked too.
    fuzz(system.hub_url, system.token("admin"), tallies["hub"], tallies["intake"].accepted)
    with capsys.disabled():
        for service, tally in tallies.items():
            print(
                f"\nschemathesis {service}: operations={tally.operations} cases={tally.cases}"
                f" failures={len(tally.failures)}"
            )
            for label, counted in tally.statuses.items():
                print(f"  {label}: " + " ".join(f"{status}×{n}" for status, n in sorted(counted.items())))
    problems = [
        f"{key}\n    {detail}" for tally in tallies.values() for key, detail in tally.failures.items()
    ]
    assert problems == [], "\n".join(problems)
