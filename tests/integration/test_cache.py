"""The seed's SMSVerificationCache call: the code's keyed hash is cached, never the code."""

from __future__ import annotations

import json

import pytest

from tests.factories import make_verification, wrong_code
from verification.cache import KEY_PREFIX, SMSVerificationCache
from verification.redis_client import get_redis
from verification.services import GreenSMSService

pytestmark = pytest.mark.django_db

PHONE = "+79991234567"


def redis_strings() -> dict[bytes, bytes]:
    """Every string key of this Redis database and its raw value."""
    redis = get_redis()
    return {key: redis.get(key) for key in redis.scan_iter() if redis.type(key) == b"string"}


def test_store_verification_code_keeps_the_hash_never_the_code():
    # given: the phone's live code, nothing cached yet
    row, code = make_verification(phone=PHONE)
    before = redis_strings()

    # when: the seed's call, on the class
    stored = SMSVerificationCache.store_verification_code("8 999 123-45-67", code)

    # then: one new key, holding the row's keyed hash; the code is nowhere in Redis
    assert stored is True
    written = {key: value for key, value in redis_strings().items() if key not in before}
    assert list(written) == [f"{KEY_PREFIX}{PHONE}".encode()]
    entry = json.loads(written[f"{KEY_PREFIX}{PHONE}".encode()])
    assert (entry["id"], entry["code_hash"]) == (str(row.id), row.code_hash)
    assert all(code.encode() not in key + value for key, value in redis_strings().items())
    # and the verify path accepts the code (once)
    assert GreenSMSService().verify_code(PHONE, code) is True
    assert GreenSMSService().verify_code(PHONE, code) is False


def test_a_code_the_database_would_refuse_is_never_cached():
    # given: the phone's live code
    _, code = make_verification(phone=PHONE)

    # when: the seed's call with another code, and for a phone without a code
    wrong = SMSVerificationCache.store_verification_code(PHONE, wrong_code(code))
    unknown = SMSVerificationCache.store_verification_code("+79990000000", code)

    # then: nothing is stored, so the cache cannot vouch for either
    assert (wrong, unknown) == (False, False)
    assert get_redis().get(f"{KEY_PREFIX}{PHONE}") is None
    assert GreenSMSService().verify_code(PHONE, wrong_code(code)) is False
