"""The provider call's request, prepared per base URL (gateways/prepared.py), is exactly
what `requests` would have sent: same method, URL, headers and (no) body."""

from __future__ import annotations

from typing import Any

import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from verification.gateways import prepared

BASES = st.sampled_from(
    [
        "https://api3.greensms.ru/sms/send",
        "http://127.0.0.1:8025/sms/send",
        "https://api.example.com:8443/v2/sms status/",  # a space in the path
        "https://грин-смс.рф/sms/send",  # an IDNA host
        "https://api.example.com/sms/send?fixed=1",  # a query of its own: prepare() itself
        "https://user:secret@api.example.com/call/send",  # credentials: prepare() itself
        "https://api.example.com/sms/send#fragment",
    ]
)
TEXT = st.text(st.characters(codec="utf-8"), max_size=30)
PARAMS = st.dictionaries(
    st.sampled_from(["to", "txt", "hidden", "tag", "from", "user", "pass", "id", "язык"]),
    st.one_of(TEXT, st.none(), st.integers(), st.lists(TEXT, max_size=3)),
    max_size=6,
)
HEADERS = st.fixed_dictionaries(
    {"User-Agent": st.just("GREENSMS_PYTHON/1.0"), "Accept": st.just("application/json")},
    optional={"Authorization": st.just("Bearer token-value")},
)


@settings(max_examples=300, deadline=None)
@given(method=st.sampled_from(["POST", "GET", "post"]), base=BASES, params=PARAMS, headers=HEADERS)
def test_prepared_as_requests_would(
    method: str, base: str, params: dict[str, Any], headers: dict[str, str]
) -> None:
    expected = requests.PreparedRequest()
    expected.prepare(method=method, url=base, headers=dict(headers), params=dict(params))

    ours = prepared.prepare(method, base, headers=headers, params=params)

    assert ours.method == expected.method
    assert ours.url == expected.url
    assert dict(ours.headers) == dict(expected.headers)
    assert ours.body == expected.body
