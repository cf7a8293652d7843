"""The dispatcher's sealing key on the real engine (#16 item 2): the private half stays in the
dispatcher's own volume, owner-only, and the public half is what nodes and the hub read from the
`sealing` bucket (checked from inside the dispatcher's container, as its own user and NATS user)."""

from __future__ import annotations

import pytest

from tests.docker_deployment import Deployment

pytestmark = pytest.mark.docker

# The public half derived from the file, then the bucket's value, as the service's user reads them.
READ_BOTH = """
import asyncio, os
from pathlib import Path
from shared import bus, config
from shared.advocacy.accounts import SEALING_BUCKET, SEALING_KEY
from shared.sealing import load_or_create_unsealer

async def main():
    nc = await bus.connect(config.nats_url(os.environ), bus.hub_client("sealing-probe"))
    try:
        entry = await (await nc.jetstream().key_value(SEALING_BUCKET)).get(SEALING_KEY)
        derived = load_or_create_unsealer(Path("/data/sealing.key")).public_key
        print("KEYS", derived, entry.value.decode(), flush=True)
    finally:
        await nc.close()

asyncio.run(main())
"""


def test_the_dispatcher_keeps_its_sealing_key_private_and_publishes_its_public_half(
    deployment: Deployment,
) -> None:
    uid = deployment.exec("dispatcher", "id", "-u").strip()
    mode, owner = deployment.exec("dispatcher", "stat", "-c", "%a %u", "/data/sealing.key").split()
    assert (mode, owner) == ("600", uid)
    answer = deployment.exec("dispatcher", "python", "-c", READ_BOTH)
    [line] = [line for line in answer.splitlines() if line.startswith("KEYS ")]  # beside the bus's logs
    _, derived, published = line.split()
    assert derived == published
    for other in ("hub", "intake-lyon-part-dieu"):  # the private half is nowhere else
        assert "sealing.key" not in deployment.exec(
            other, "sh", "-c", "find / -name sealing.key 2>/dev/null; true"
        )
