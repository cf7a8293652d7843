"""Credentials sealed at a node for the dispatcher alone (issue #16 item 2): the policy is the
module's docstring, each line of it tried here as someone holding the node's side would."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from nacl.public import PrivateKey

from shared.sealing import PREFIX, Sealer, SealError, Unsealer, load_or_create_unsealer

PASSWORD = "abcd-efgh-ijkl-mnop"  # a Bluesky app password's shape
PURPOSE = "bluesky-app-password:adv-7f3a"


def pair() -> tuple[Sealer, Unsealer]:
    unsealer = Unsealer(PrivateKey.generate())
    return Sealer(unsealer.public_key), unsealer


def test_the_dispatcher_opens_what_a_node_sealed_for_it() -> None:
    sealer, unsealer = pair()
    sealed = sealer.seal(PASSWORD, purpose=PURPOSE)
    assert sealed.startswith(PREFIX)
    assert unsealer.open(sealed, purpose=PURPOSE) == PASSWORD


def test_a_sealed_value_shows_nothing_of_the_password_and_two_seals_differ() -> None:
    sealer, _ = pair()
    first, second = sealer.seal(PASSWORD, purpose=PURPOSE), sealer.seal(PASSWORD, purpose=PURPOSE)
    assert first != second
    for sealed in (first, second):
        assert PASSWORD not in sealed and "abcd" not in sealed


def test_another_key_cannot_open_it() -> None:
    sealer, _ = pair()
    _, stranger = pair()
    with pytest.raises(SealError) as refused:
        stranger.open(sealer.seal(PASSWORD, purpose=PURPOSE), purpose=PURPOSE)
    assert PASSWORD not in str(refused.value)


def test_a_value_sealed_for_one_advocate_cannot_be_replayed_as_anothers() -> None:
    sealer, unsealer = pair()
    sealed = sealer.seal(PASSWORD, purpose=PURPOSE)
    with pytest.raises(SealError, match="another purpose"):
        unsealer.open(sealed, purpose="bluesky-app-password:adv-other")


@pytest.mark.parametrize("offset", [0, 31, 32, 48, -1])  # its ephemeral key, its MAC, its text
def test_a_tampered_value_does_not_open(offset: int) -> None:
    sealer, unsealer = pair()
    raw = bytearray(base64.urlsafe_b64decode(sealer.seal(PASSWORD, purpose=PURPOSE)[len(PREFIX) :] + "=="))
    raw[offset] ^= 0x01
    tampered = PREFIX + base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    with pytest.raises(SealError):
        unsealer.open(tampered, purpose=PURPOSE)


@pytest.mark.parametrize("value", [PASSWORD, "", "enc:v1:xyz", "sealed:v1:", "sealed:v1:!!!"])
def test_a_value_that_is_not_a_seal_is_refused(value: str) -> None:
    _, unsealer = pair()
    with pytest.raises(SealError):
        unsealer.open(value, purpose=PURPOSE)


@pytest.mark.parametrize("key", ["", "short", "x" * 43 + "!"])
def test_a_node_given_a_bad_public_key_refuses_to_seal(key: str) -> None:
    with pytest.raises(SealError):
        Sealer(key)


def test_the_dispatchers_key_is_created_owner_only_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "dispatcher-seal.key"
    created = load_or_create_unsealer(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again = load_or_create_unsealer(path)
    assert again.public_key == created.public_key
    sealed = Sealer(created.public_key).seal(PASSWORD, purpose=PURPOSE)
    assert again.open(sealed, purpose=PURPOSE) == PASSWORD
    assert created.public_key not in path.read_text()  # the file holds the private half
