"""Rows as the service creates them, with the plaintext code returned for the test's use."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from verification import codes
from verification.models import SMSVerification


def make_verification(*, phone: str = "+79991234567", **fields: Any) -> tuple[SMSVerification, str]:
    now = timezone.now()
    row = SMSVerification(
        phone=phone,
        created_at=fields.pop("created_at", now),
        expires_at=fields.pop(
            "expires_at", now + timedelta(seconds=settings.VERIFICATION_CODE_TTL)
        ),
        code_seed=codes.new_seed(),
        **fields,
    )
    code = codes.code_for(row.id, row.code_seed)
    row.code_hash = codes.hash_code(row.id, code)
    row.save(force_insert=True)
    return row, code


def wrong_code(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def code_of(row: SMSVerification) -> str:
    return codes.code_for(row.id, row.code_seed)
