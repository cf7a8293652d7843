"""The whole path with real processes: advisor → intake → NATS → formatter → hub → dispatcher → sandbox.

Every check reads what really happened: the agency's API, the hub's audit and what the sandbox
networks received.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections import Counter

import nats
import nats.js.errors
import pytest

from shared.secrets import SecretBox, load_or_create_key
from tests.harness import RelaisSystem, eventually, http

NETWORKS = ["x", "mastodon", "bluesky", "linkedin", "facebook"]
AGENCY = "lyon-part-dieu"


def published_texts(relais: RelaisSystem) -> Counter[str]:
    return Counter(p["text"] for p in relais.sandbox_posts())


def test_one_post_reaches_every_network_and_the_audit_tells_the_story(relais: RelaisSystem) -> None:
    text = "Job dating logistique jeudi 10 h à Lyon Part-Dieu ! #emploi"
    status, accepted = relais.post({"text": text, "networks": NETWORKS})
    assert status == 202, accepted

    post = relais.wait_status(accepted["id"], ("published",))
    assert len(post["deliveries"]) == 5
    for delivery in post["deliveries"]:
        assert delivery["status"] == "published", delivery
        assert delivery["remote_id"] and delivery["url"] and delivery["error"] is None
    received = relais.sandbox_posts()
    assert sorted(p["network"] for p in received) == sorted(NETWORKS)
    remote_ids = {d["network"]: d["remote_id"] for d in post["deliveries"]}
    for item in received:
        assert item["remote_id"] == remote_ids[item["network"]]

    def audit() -> list[dict[str, object]]:
        status, body = http(
            "GET", f"{relais.hub_url}/v1/audit?post_id={accepted['id']}", token=relais.token("admin")
        )
        assert status == 200, body
        events = list(body["events"])
        return events if sum(e["event"] == "delivery.published" for e in events) == 5 else []

    events = eventually(audit)
    names = [e["event"] for e in events]
    assert names[:4] == ["received", "targeted", "rendered", "approved"]
    assert events[0]["actor"] == f"advisor@{AGENCY}" and events[0]["agency"] == AGENCY
    published = [e for e in events if e["event"] == "delivery.published"]
    assert sorted(e["network"] for e in published) == sorted(NETWORKS)
    assert all(names.index("approved") < i for i, n in enumerate(names) if n.startswith("delivery."))
    assert all(e["detail"]["remote_id"] for e in published)


def test_the_audit_needs_an_admin_token(relais: RelaisSystem) -> None:
    assert http("GET", f"{relais.hub_url}/v1/audit?post_id=x")[0] == 401
    assert http("GET", f"{relais.hub_url}/v1/audit?post_id=x", token=relais.token())[0] == 403


def test_an_accepted_post_survives_an_intake_restart_before_relay(relais: RelaisSystem) -> None:
    relais.stop("nats")
    text = "Forum de l'alternance samedi, inscriptions ouvertes #alternance"
    status, accepted = relais.post({"text": text, "networks": NETWORKS})
    assert status == 202
    relais.wait_status(accepted["id"], ("waiting_for_hub",))
    relais.kill(f"intake-{AGENCY}")  # kill -9: only what is on disk survives

    relais.start(f"intake-{AGENCY}", alive_only=True)
    assert relais.get_post(accepted["id"])["status"] == "waiting_for_hub"
    relais.start("nats")
    relais.wait_status(accepted["id"], ("published",), timeout=60)
    assert published_texts(relais)[text] == 5


def test_posts_accepted_while_nats_is_down_are_published_exactly_once(relais: RelaisSystem) -> None:
    relais.stop("nats")
    texts = [f"Atelier numéro {i} : préparer son entretien #emploi" for i in range(3)]
    ids = []
    for text in texts:
        status, accepted = relais.post({"text": text, "networks": NETWORKS})
        assert status == 202
        ids.append(accepted["id"])
    for post_id in ids:
        assert relais.wait_status(post_id, ("waiting_for_hub",))["status"] == "waiting_for_hub"

    relais.start("nats")
    for post_id in ids:
        relais.wait_status(post_id, ("published",), timeout=60)
    counts = published_texts(relais)
    assert all(counts[text] == 5 for text in texts), counts


def test_a_variant_redelivered_to_a_restarted_dispatcher_is_not_published_twice(relais: RelaisSystem) -> None:
    text = "Recrutement saisonnier : 40 postes en restauration #emploi"
    status, accepted = relais.post({"text": text, "networks": NETWORKS})
    assert status == 202
    relais.wait_status(accepted["id"], ("published",))
    relais.kill("dispatcher")

    async def forget_acks() -> int:
        # A brand-new durable consumer redelivers every approval the stream holds.
        nc = await nats.connect(relais.nats_url)
        js = nc.jetstream()
        await js.delete_consumer("DECISIONS", "dispatcher")
        count = (await js.stream_info("DECISIONS")).state.messages
        await nc.close()
        return count

    assert asyncio.run(forget_acks()) >= 1
    relais.start("dispatcher")

    def redelivered() -> bool:
        async def pending() -> int | None:
            nc = await nats.connect(relais.nats_url)
            try:
                info = await nc.jetstream().consumer_info("DECISIONS", "dispatcher")
            except nats.js.errors.NotFoundError:
                return None  # the restarted dispatcher has not declared its consumer yet
            finally:
                await nc.close()
            return info.num_pending + info.num_ack_pending

        return asyncio.run(pending()) == 0

    eventually(redelivered)
    assert published_texts(relais)[text] == 5
    assert relais.get_post(accepted["id"])["status"] == "published"


@pytest.mark.parametrize("agency", ["grenoble-europole"])
def test_each_agency_node_serves_only_its_own_agency(relais: RelaisSystem, agency: str) -> None:
    status, body = http(
        "POST",
        f"{relais.intake_url(agency)}/v1/posts",
        {"text": "Bonjour", "networks": ["x"]},
        token=relais.token(agency=AGENCY),
    )
    assert status == 403 and body["error"]["code"] == "wrong_agency"
    status, accepted = relais.post({"text": "Bonjour de Grenoble #emploi", "networks": ["x"]}, agency=agency)
    assert status == 202
    post = relais.wait_status(accepted["id"], ("published",), agency=agency)
    assert [d["page"] for d in post["deliveries"]] == ["grenoble-europole-x"]


def test_every_log_line_on_a_posts_path_names_the_post_and_its_agency(relais: RelaisSystem) -> None:
    status, accepted = relais.post(
        {"text": "Info collective métiers du soin #emploi", "networks": ["x", "bluesky"]}
    )
    assert status == 202
    relais.wait_status(accepted["id"], ("published",))
    lines = [json.loads(line) for line in relais.logs().splitlines() if line.startswith("{")]
    about_post = [line for line in lines if accepted["id"] in json.dumps(line)]
    events = {line["event"] for line in about_post}
    assert {
        "post.accepted",
        "post.relayed",
        "post.targeted",
        "post.rendered",
        "post.approved",
        "delivery.published",
    } <= events
    for line in about_post:
        assert line.get("post_id") == accepted["id"] and line.get("agency") == AGENCY, line


def test_the_audit_chain_verifies_and_no_network_secret_reaches_logs_or_audit(relais: RelaisSystem) -> None:
    status, accepted = relais.post({"text": "Salon du recrutement #emploi", "networks": NETWORKS})
    assert status == 202
    relais.wait_status(accepted["id"], ("published",))
    eventually(lambda: sum(e["event"] == "delivery.published" for e in relais.audit(accepted["id"])) == 5)
    done = subprocess.run(
        [sys.executable, "-m", "relais.cli", "audit", "verify", "--db", str(relais.data_dir / "hub.db")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout
    box = SecretBox(load_or_create_key({"RELAIS_DATA_DIR": str(relais.data_dir)}))
    stored = (relais.data_dir / "credentials.json").read_text()
    secrets = [
        box.open(v)
        for entry in json.loads(stored).values()
        for k, v in entry.items()
        if k in ("token", "password")
    ]
    assert secrets and not [s for s in secrets if s in stored]  # encrypted at rest
    exported = subprocess.run(
        [sys.executable, "-m", "relais.cli", "audit", "export", "--db", str(relais.data_dir / "hub.db")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    haystacks = {"logs": relais.logs(), "audit": exported}
    for name, text in haystacks.items():
        assert not [s for s in secrets if s in text], f"a network credential appears in the {name}"


def test_an_advisor_refused_at_another_agency_is_in_the_hubs_audit(relais: RelaisSystem) -> None:
    intruder = relais.token(agency="rennes-sud")
    status, _ = http(
        "POST", f"{relais.intake_url(AGENCY)}/v1/posts", {"text": "x", "networks": ["x"]}, token=intruder
    )
    assert status == 403
    status, _ = http("GET", f"{relais.intake_url(AGENCY)}/v1/posts/lyon-part-dieu-01ABC", token=intruder)
    assert status == 403

    def denials() -> list[dict[str, object]]:
        body = http("GET", f"{relais.hub_url}/v1/audit?event=permission.denied", token=relais.token("admin"))[
            1
        ]
        return [e for e in body["events"] if e["actor"] == "advisor@rennes-sud"]

    found = eventually(lambda: len(d := denials()) == 2 and d)
    assert {e["agency"] for e in found} == {AGENCY}
    assert {e["detail"]["method"] for e in found} == {"POST", "GET"}


def test_a_threaded_delivery_reports_every_parts_id_and_url(relais: RelaisSystem) -> None:
    sentence = (
        "Nouvelle session de formation aux métiers de la logistique à Lyon Part-Dieu, inscriptions ouvertes. "
    )
    status, accepted = relais.post({"text": sentence * 5 + "#emploi", "networks": ["x", "bluesky"]})
    assert status == 202
    post = relais.wait_status(accepted["id"], ("published",))
    for delivery in post["deliveries"]:
        parts = delivery["parts"]
        assert len(parts) >= 2, delivery
        assert parts[0]["remote_id"] == delivery["remote_id"] and parts[0]["url"] == delivery["url"]
        assert len({p["remote_id"] for p in parts}) == len(parts)
        assert all(p["url"] and p["url"].endswith(p["remote_id"].rsplit("/", 1)[-1]) for p in parts)
    received = Counter(p["network"] for p in relais.sandbox_posts())
    by_network = {d["network"]: len(d["parts"]) for d in post["deliveries"]}
    assert received == by_network
    hub_view = eventually(lambda: (v := relais.hub_post(accepted["id"])) and v["status"] == "published" and v)
    assert {d["network"]: len(d["parts"]) for d in hub_view["deliveries"]} == by_network
