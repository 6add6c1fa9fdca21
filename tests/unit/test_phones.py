from __future__ import annotations

import pytest

from verification.exceptions import InvalidPhone
from verification.phones import mask_phone, normalize_phone


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+79991234567", "+79991234567"),
        ("89991234567", "+79991234567"),
        ("+7 (999) 123-45-67", "+79991234567"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_normalize_to_e164(raw, e164):
    assert normalize_phone(raw) == e164


@pytest.mark.parametrize("raw", ["+1234567890", "abc", "", "+7999", "+79991234567890123"])
def test_invalid_numbers_raise(raw):
    with pytest.raises(InvalidPhone):
        normalize_phone(raw)


def test_mask_keeps_prefix_and_last_four():
    assert mask_phone("+79991234567") == "+7999***4567"
