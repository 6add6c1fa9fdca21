"""Codes by channel (SPEC §13) and the call/voice status table."""

from __future__ import annotations

import uuid

import pytest

from verification import codes
from verification.gateways.base import delivery_status


@pytest.mark.parametrize(("channel", "length"), [("sms", 6), ("viber", 6), ("voice", 5)])
def test_a_new_code_has_its_channels_length_and_only_its_hash_is_kept(channel, length):
    material = codes.new_material(channel=channel)
    code = codes.code_for(material.id, material.code_seed, codes.length_for(channel))
    assert code == material.code
    assert len(code) == length
    assert codes.code_matches(material.code_hash, material.id, code)
    assert code not in material.code_hash


def test_a_call_row_has_no_code_until_the_provider_chooses_one():
    verification_id = uuid.uuid4()
    material = codes.new_material(verification_id=verification_id, channel="call")
    assert (material.id, material.code, material.code_hash) == (verification_id, "", "")
    assert not any(
        codes.code_matches(material.code_hash, verification_id, f"{n:04d}") for n in range(10_000)
    )


@pytest.mark.parametrize(
    ("code", "channel", "well_formed"),
    [
        ("1234", "call", True),
        ("12345", "voice", True),
        ("123456", "sms", True),
        ("123456", "call", False),
        ("1234", "sms", False),
        ("12345", "sms", False),
        ("١٢٣٤", "call", False),
    ],
)
def test_well_formed_follows_the_rows_channel(code, channel, well_formed):
    assert codes.is_well_formed(code, channel) is well_formed
    assert codes.is_plausible(code) is code.isascii()


@pytest.mark.parametrize("bad", ["123", "1234567", "12a4", ""])
def test_no_channel_takes_other_lengths(bad):
    assert not codes.is_plausible(bad)


@pytest.mark.parametrize(
    ("channel", "code", "text", "state"),
    [
        # the code decides when it is known
        ("call", 1, "Call delivered", "delivered"),
        ("call", 2, "Call failed", "failed"),
        ("voice", 16, "Call rejected", "failed"),
        ("voice", 34, "Status request expired", "failed"),
        ("call", 8, "Calling", "pending"),
        ("voice", 0, "Status not ready", "pending"),
        # without a known code, the text does
        ("call", None, "No answer", "delivered"),  # a flash call is meant to go unanswered
        ("voice", None, "No answer", "failed"),  # nobody heard the code
        ("voice", None, "Answered", "delivered"),
        ("call", 77, "busy", "failed"),
        ("voice", None, "Something new", "pending"),  # unknown: pending until the horizon
        # SMS and Viber keep the code-only reading
        ("sms", None, "Delivery success", "pending"),
        ("viber", 2, "", "failed"),
    ],
)
def test_call_and_voice_statuses(channel, code, text, state):
    assert delivery_status(code, text, channel).state == state
