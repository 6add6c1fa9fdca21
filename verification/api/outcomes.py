"""Counting every answer of an operation by outcome, as the client saw it.

The outcome is decided after the exception handler has shaped the response, so every
refusal is counted under the machine code the client received (`rate_limited`,
`invalid_phone`, `parse_error`, …) without a try/except in any view.
"""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from verification.api.idempotency import REPLAYED_HEADER


class OutcomeCountedView(APIView):
    """`count_outcome(outcome)` is called once per answer: `success_outcome` for a 2xx, the
    error body's `code` otherwise, `replayed` for an idempotent replay."""

    success_outcome = "ok"

    @staticmethod
    def count_outcome(outcome: str) -> None:
        raise NotImplementedError

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        self.count_outcome(_outcome(response, self.success_outcome))
        return response


def _outcome(response: Response, success: str) -> str:
    if response.get(REPLAYED_HEADER) == "true":
        return "replayed"  # an Idempotency-Key retry: the first answer was counted already
    if response.status_code < 400:
        return success
    data = getattr(response, "data", None)
    code = data.get("code") if isinstance(data, dict) else None
    return code if isinstance(code, str) else f"http_{response.status_code}"
