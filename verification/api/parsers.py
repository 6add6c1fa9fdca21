"""The one request body the API takes: a small, strict JSON document.

Anything else that claims to be JSON is a 400 `parse_error`, never a 500: not UTF-8 (RFC
8259 requires it between systems), NaN or Infinity (not JSON), duplicate keys (a proxy or
WAF that reads the first and a service that reads the last disagree about what was sent),
or nesting deeper than any request of ours needs (a few thousand levels would exhaust the
interpreter's recursion limit in the decoder).
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# Our requests are flat objects; 32 levels leaves room for any client's habits.
MAX_DEPTH = 32
_STRINGS_OR_BRACKETS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


class Malformed(ValueError):
    pass


class StrictJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        raw = stream.read() if stream is not None else b""
        try:
            return loads(raw)
        except (ValueError, RecursionError):
            raise ParseError(_("Тело запроса не является корректным JSON")) from None


def loads(raw: bytes) -> Any:
    text = raw.decode("utf-8")  # UnicodeDecodeError is a ValueError
    _check_depth(text)
    return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)


def _check_depth(text: str) -> None:
    depth = 0
    for match in _STRINGS_OR_BRACKETS.finditer(text):
        bracket = match.group()
        if bracket in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise Malformed("nested too deep")
        elif bracket in "]}":
            depth -= 1


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise Malformed("duplicate key")
    return result


def _no_constant(name: str) -> Any:
    raise Malformed(f"{name} is not JSON")
