"""GreenSMS delivery codes -> the service's three delivery states (SPEC §6)."""

from __future__ import annotations

import dataclasses

import pytest

from verification.gateways.base import DeliveryStatus, delivery_status, state_for_status_code


@pytest.mark.parametrize(
    ("status_code", "state"),
    [
        (1, "delivered"),
        (2, "failed"),
        (16, "failed"),
        (32, "failed"),
        (34, "failed"),
        (0, "pending"),
        (4, "pending"),
        (8, "pending"),
        (3, "pending"),  # unknown: pending until the poller's horizon
        (999, "pending"),
        (-1, "pending"),
        (None, "pending"),
    ],
)
def test_status_code_maps_to_state(status_code: int | None, state: str) -> None:
    assert state_for_status_code(status_code) == state


def test_delivery_status_keeps_the_providers_description() -> None:
    # given a description sent by the provider
    # when
    status = delivery_status(8, "Доставка принята")
    # then
    assert status == DeliveryStatus("pending", 8, "Доставка принята")


def test_delivery_status_fills_a_known_description_when_none_came() -> None:
    assert delivery_status(1).description == "Delivery success"
    assert delivery_status(34).description == "Status request expired"
    assert delivery_status(77).description == ""


def test_delivery_status_is_immutable() -> None:
    status = delivery_status(1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        status.state = "failed"  # type: ignore[misc]
