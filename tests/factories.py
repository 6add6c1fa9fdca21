"""Rows as the service creates them, with the plaintext code returned for the test's use."""

from __future__ import annotations

from typing import Any

from verification import codes
from verification.models import SMSVerification


def make_verification(*, phone: str = "+79991234567", **fields: Any) -> tuple[SMSVerification, str]:
    """A stored row (any field overridable) and its plaintext code."""
    material = codes.new_material()
    row = SMSVerification(phone=phone, **{**material.row_fields(), **fields})
    row.save(force_insert=True)
    return row, material.code


def wrong_code(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def code_of(row: SMSVerification) -> str:
    return codes.code_for(row.id, row.code_seed)
