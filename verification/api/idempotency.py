"""The `Idempotency-Key` request header of send-code (verification/idempotency.py decides)."""

from __future__ import annotations

import re

from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
# Printable ASCII: what any client, proxy and log carries unchanged.
KEY_PATTERN = rf"^[\x20-\x7e]{{1,{MAX_KEY_LENGTH}}}$"
KEY_RE = re.compile(KEY_PATTERN)


def idempotency_key(request: Request) -> str | None:
    """The request's key, None without one; 400 `invalid_request` when malformed."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not KEY_RE.match(key):
        raise ValidationError({HEADER: [_("Ключ идемпотентности: до 255 печатных символов ASCII")]})
    return key
