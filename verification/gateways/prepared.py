"""The provider call's request, built as `requests.PreparedRequest.prepare` would build it.

`prepare` parses and re-quotes the whole URL, encodes the query, checks every header and
looks for cookies and URL credentials on each call: a tenth of a send's CPU in the worker.
Every provider call is the same shape (a configured base URL, string parameters in the
query string, constant headers, no body), so the base URL is prepared once per URL and only
the query is encoded per call. A URL outside that shape (a query, a fragment or credentials
of its own) takes `prepare` itself. tests/unit/test_gateway_prepared.py checks the two agree.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.structures import CaseInsensitiveDict

_BODILESS = frozenset({"GET", "HEAD"})


@functools.lru_cache(maxsize=64)
def _prepared_base(url: str) -> str | None:
    """`url` as `prepare_url` leaves it (IDNA host, quoted path); None when the URL carries
    a query, a fragment or credentials, which only `prepare` itself handles."""
    parts = urlsplit(url)
    if parts.query or parts.fragment or "@" in parts.netloc:
        return None
    request = requests.PreparedRequest()
    request.prepare_url(url, None)
    return request.url


def prepare(
    method: str, url: str, *, headers: Mapping[str, str], params: Mapping[str, Any]
) -> requests.PreparedRequest:
    """A PreparedRequest without a body, equal to `PreparedRequest().prepare(method=method,
    url=url, headers=headers, params=params)`."""
    base = _prepared_base(url)
    if base is None:
        request = requests.PreparedRequest()
        request.prepare(method=method, url=url, headers=dict(headers), params=dict(params))
        return request
    request = requests.PreparedRequest()
    request.method = method.upper()
    # requests' own encoder of `params` (None dropped, lists spread, text as UTF-8).
    query = requests.PreparedRequest._encode_params(dict(params))
    request.url = f"{base}?{query!s}" if query else base
    request.headers = CaseInsensitiveDict(headers)
    if request.method not in _BODILESS:
        # What prepare_content_length adds to a bodiless POST.
        request.headers["Content-Length"] = "0"
    request.body = None
    return request
