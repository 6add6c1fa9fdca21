from __future__ import annotations

import uuid

from verification import codes


def test_codes_are_six_digits_and_vary():
    issued = {codes.code_for(uuid.uuid4(), codes.new_seed()) for _ in range(200)}

    assert all(len(code) == 6 and code.isdigit() for code in issued)
    assert len(issued) > 150  # 200 draws from a million values rarely collide


def test_well_formed_codes():
    assert codes.is_well_formed("012345")
    for bad in ["12345", "1234567", "12a456", "١٢٣٤٥٦", " 12345", ""]:
        assert not codes.is_well_formed(bad)


def test_hash_is_hex_sha256_and_never_the_code():
    digest = codes.hash_code(uuid.uuid4(), "123456")

    assert len(digest) == 64
    assert "123456" not in digest


def test_the_code_is_recovered_from_the_row_alone_and_matches_its_hash():
    verification_id, seed = uuid.uuid4(), codes.new_seed()

    code = codes.code_for(verification_id, seed)

    assert codes.code_for(verification_id, seed) == code  # a retrying worker sends the same
    assert codes.code_matches(codes.hash_code(verification_id, code), verification_id, code)
