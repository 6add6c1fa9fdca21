"""Token keys: RFC 7638 thumbprints, the DEBUG key file created once under a race."""

from __future__ import annotations

import base64
import multiprocessing
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.core.exceptions import ImproperlyConfigured

from verification.token_keys import (
    private_key_from_pem,
    private_key_pem,
    read_or_create_key_file,
    thumbprint,
)


def _b64url_decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def test_thumbprint_matches_rfc_8037_appendix_a3():
    # given the Ed25519 public key of RFC 8037, A.2
    key = Ed25519PublicKey.from_public_bytes(
        _b64url_decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
    )

    # then its RFC 7638 thumbprint is the one RFC 8037, A.3 gives
    assert thumbprint(key) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def _create(path: str) -> bytes:
    return private_key_pem(read_or_create_key_file(Path(path)))


def test_concurrent_first_starts_agree_on_one_key(tmp_path):
    # given eight processes starting at once with no key file yet
    path = tmp_path / "run" / "token-signing-key.pem"

    # when each loads (or creates) the key
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(8) as pool:
        pems = pool.map(_create, [str(path)] * 8)

    # then they all hold the same key, the one in the file, readable by the owner only
    assert len(set(pems)) == 1
    assert path.read_bytes() == pems[0]
    assert path.stat().st_mode & 0o077 == 0
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp files left


def test_an_existing_key_file_is_reused(tmp_path):
    path = tmp_path / "key.pem"
    first = private_key_pem(read_or_create_key_file(path))

    assert private_key_pem(read_or_create_key_file(path)) == first


@pytest.mark.parametrize(
    "pem",
    [
        b"not a key",
        # an RSA-sized PEM header with garbage inside
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    ],
)
def test_a_malformed_key_is_a_configuration_error(pem):
    with pytest.raises(ImproperlyConfigured):
        private_key_from_pem(pem, "VERIFICATION_TOKEN_PRIVATE_KEY")
