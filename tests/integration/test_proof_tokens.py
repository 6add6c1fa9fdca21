"""Proof tokens as a host backend sees them: checked with PyJWT against our JWKS only."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.utils import timezone
from rest_framework.test import APIClient

from tests.factories import make_verification
from verification import codes
from verification.models import SMSVerification
from verification.token_keys import private_key_pem
from verification.tokens import proof_token_issue

pytestmark = pytest.mark.django_db

VERIFY = "/api/auth/verify-code/"
JWKS = "/.well-known/jwks.json"


def host_backend_verify(api_client: Any, token: str, audience: str | None = None) -> dict:
    """What a host backend does: pick the JWKS key by `kid`, check signature and claims."""
    jwk_set = jwt.PyJWKSet.from_dict(api_client.get(JWKS).json())
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in jwk_set.keys if k.key_id == kid)
    return jwt.decode(
        token,
        key,
        algorithms=["EdDSA"],
        audience=audience,
        issuer="phone-verification",
        options={"require": ["exp", "iat", "sub", "jti"]},
    )


def new_key_pem(tmp_path: Any, name: str) -> tuple[str, Any]:
    key = Ed25519PrivateKey.generate()
    path = tmp_path / name
    path.write_bytes(private_key_pem(key))
    return private_key_pem(key).decode(), path


@pytest.fixture
def token_settings(settings: Any, tmp_path: Any) -> Any:
    pem, _ = new_key_pem(tmp_path, "current.pem")
    settings.VERIFICATION_TOKEN_PRIVATE_KEY = pem
    settings.VERIFICATION_TOKEN_PUBLIC_KEYS = []
    settings.VERIFICATION_TOKEN_AUDIENCE = "https://app.example.com"
    settings.VERIFICATION_TOKEN_TTL = 600
    return settings


def test_a_verified_code_returns_a_token_the_jwks_verifies(api_client, token_settings):
    # given a live code
    row, code = make_verification(phone="+79991234567")

    # when the client verifies it
    body = api_client.post(VERIFY, {"phone": row.phone, "code": code}, format="json").json()

    # then a host backend accepts the token with nothing but the JWKS
    claims = host_backend_verify(api_client, body["token"], audience="https://app.example.com")
    assert claims["sub"] == claims["phone_number"] == "+79991234567"
    assert claims["phone_number_verified"] is True
    assert claims["vid"] == str(row.id)
    assert claims["amr"] == ["sms"]
    assert claims["aud"] == "https://app.example.com"
    assert claims["exp"] - claims["iat"] == 600
    assert claims["exp"] == int(datetime.fromisoformat(body["token_expires_at"]).timestamp())
    header = jwt.get_unverified_header(body["token"])
    assert (header["alg"], header["kid"]) == (
        "EdDSA",
        api_client.get(JWKS).json()["keys"][0]["kid"],
    )


def test_amr_names_the_channel_the_code_went_out_on(api_client, token_settings):
    # given a code read out by a voice call
    material = codes.new_material(channel="voice")
    row = SMSVerification(phone="+79991234567", channel="voice", **material.row_fields())
    row.save(force_insert=True)

    # when it is verified
    body = api_client.post(
        VERIFY, {"phone": row.phone, "code": material.code}, format="json"
    ).json()

    # then the token says how the phone was proven
    claims = host_backend_verify(api_client, body["token"], audience="https://app.example.com")
    assert claims["amr"] == ["voice"]


def test_jwks_is_cacheable_and_holds_only_public_material(api_client, token_settings):
    response = api_client.get(JWKS)

    assert response.status_code == 200
    assert response["Cache-Control"] == "public, max-age=300"
    (key,) = response.json()["keys"]
    assert set(key) == {"kty", "crv", "x", "kid", "use", "alg"}  # no "d"
    assert (key["kty"], key["crv"], key["alg"], key["use"]) == ("OKP", "Ed25519", "EdDSA", "sig")


def test_no_audience_claim_when_none_is_configured(api_client, token_settings):
    token_settings.VERIFICATION_TOKEN_AUDIENCE = ""
    row, _ = make_verification()

    token = proof_token_issue(verification_id=row.id, phone=row.phone, channel="sms").token

    assert "aud" not in host_backend_verify(api_client, token)


def _tamper(token: str) -> str:
    """The attacker's edit: the same signature over claims naming another phone."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = claims["phone_number"] = "+79990000666"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def _forge_with_own_key(token: str) -> str:
    """The attacker's other edit: re-sign with a key of their own under our kid."""
    claims = jwt.decode(token, options={"verify_signature": False})
    kid = jwt.get_unverified_header(token)["kid"]
    return jwt.encode(claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": kid})


def _alg_none(token: str) -> str:
    claims = jwt.decode(token, options={"verify_signature": False})
    kid = jwt.get_unverified_header(token)["kid"]
    return jwt.encode(claims, "", algorithm="none", headers={"kid": kid})


@pytest.mark.parametrize(
    ("make_token", "audience", "error"),
    [
        pytest.param(_tamper, "https://app.example.com", jwt.InvalidSignatureError, id="tampered"),
        pytest.param(
            _forge_with_own_key, "https://app.example.com", jwt.InvalidSignatureError, id="forged"
        ),
        pytest.param(_alg_none, "https://app.example.com", jwt.InvalidAlgorithmError, id="none"),
        pytest.param(
            lambda t: t, "https://other.example.com", jwt.InvalidAudienceError, id="wrong-audience"
        ),
    ],
)
def test_an_altered_or_misdirected_token_is_refused(
    api_client, token_settings, make_token, audience, error
):
    # given a genuine token
    row, _ = make_verification()
    genuine = proof_token_issue(verification_id=row.id, phone=row.phone, channel="sms").token

    # when it is altered or presented to another audience, the host backend refuses it
    with pytest.raises(error):
        host_backend_verify(api_client, make_token(genuine), audience=audience)


def test_an_expired_token_is_refused(api_client, token_settings):
    # given a token issued longer than its lifetime ago
    row, _ = make_verification()
    issued = timezone.now() - timedelta(seconds=601)
    token = proof_token_issue(
        verification_id=row.id, phone=row.phone, channel="sms", now=issued
    ).token

    with pytest.raises(jwt.ExpiredSignatureError):
        host_backend_verify(api_client, token, audience="https://app.example.com")


def test_rotation_keeps_old_tokens_valid_while_their_key_is_listed(
    api_client, token_settings, tmp_path
):
    # given a token signed with the old key
    row, _ = make_verification()
    old_token = proof_token_issue(verification_id=row.id, phone=row.phone, channel="sms").token
    old_key_file = tmp_path / "old.pub.pem"
    old_key_file.write_bytes(
        serialization.load_pem_private_key(
            token_settings.VERIFICATION_TOKEN_PRIVATE_KEY.encode(), password=None
        )
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )

    # when a new key signs and the old public key stays listed
    new_pem, _ = new_key_pem(tmp_path, "new.pem")
    token_settings.VERIFICATION_TOKEN_PRIVATE_KEY = new_pem
    token_settings.VERIFICATION_TOKEN_PUBLIC_KEYS = [str(old_key_file)]
    new_token = proof_token_issue(verification_id=row.id, phone=row.phone, channel="sms").token

    # then both tokens verify, each by its own key
    assert len(api_client.get(JWKS).json()["keys"]) == 2
    for token in (old_token, new_token):
        assert host_backend_verify(api_client, token, audience="https://app.example.com")

    # and once the old key is withdrawn, its tokens no longer verify
    token_settings.VERIFICATION_TOKEN_PUBLIC_KEYS = []
    with pytest.raises(StopIteration):  # no key in the JWKS has the token's kid
        host_backend_verify(api_client, old_token, audience="https://app.example.com")
    assert host_backend_verify(api_client, new_token, audience="https://app.example.com")


def test_the_key_may_be_one_line_with_escaped_newlines(api_client, token_settings):
    token_settings.VERIFICATION_TOKEN_PRIVATE_KEY = (
        token_settings.VERIFICATION_TOKEN_PRIVATE_KEY.strip().replace("\n", "\\n")
    )
    row, _ = make_verification()

    token = proof_token_issue(verification_id=row.id, phone=row.phone, channel="sms").token

    assert host_backend_verify(api_client, token, audience="https://app.example.com")


@pytest.mark.django_db(transaction=True)
def test_the_readme_recipe_verifies_a_token_over_http(live_server, token_settings):
    # given a token from a real verify-code over HTTP
    row, code = make_verification()
    client = APIClient()
    token = client.post(VERIFY, {"phone": row.phone, "code": code}, format="json").json()["token"]

    # when a host backend follows the README: PyJWKClient on the published JWKS
    jwks = jwt.PyJWKClient(f"{live_server.url}{JWKS}", lifespan=300)
    key = jwks.get_signing_key_from_jwt(token)
    claims = jwt.decode(
        token,
        key,
        algorithms=["EdDSA"],
        issuer="phone-verification",
        audience="https://app.example.com",
        options={"require": ["exp", "iat", "sub", "jti"]},
    )

    # then it learns the verified phone
    assert claims["phone_number"] == row.phone
