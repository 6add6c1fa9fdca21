"""Proof of verification (SPEC §12): a JWT that a host backend checks against our JWKS.

The client cannot forge `{"verified": true}` into this: the token is signed with the
service's Ed25519 key, names the phone (`sub`, `phone_number`) and the verification (`vid`),
and expires after VERIFICATION_TOKEN_TTL. A backend should also remember `jti` until `exp`
if a token must not be redeemed twice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from django.conf import settings
from django.utils import timezone

from verification.token_keys import ALGORITHM, keyring


@dataclass(frozen=True)
class ProofToken:
    token: str
    expires_at: datetime


def proof_token_issue(
    *,
    verification_id: uuid.UUID,
    phone: str,
    channel: str,
    now: datetime | None = None,
) -> ProofToken:
    issued_at = (now or timezone.now()).replace(microsecond=0)
    expires_at = issued_at + timedelta(seconds=settings.VERIFICATION_TOKEN_TTL)
    claims: dict[str, object] = {
        "iss": settings.VERIFICATION_TOKEN_ISSUER,
        "sub": phone,
        "phone_number": phone,
        "phone_number_verified": True,
        "vid": str(verification_id),
        "amr": [channel],
        "iat": int(issued_at.timestamp()),
        "exp": int(expires_at.timestamp()),
        "jti": uuid.uuid4().hex,
    }
    if settings.VERIFICATION_TOKEN_AUDIENCE:
        claims["aud"] = settings.VERIFICATION_TOKEN_AUDIENCE
    keys = keyring()
    token = jwt.encode(
        claims, keys.signing_key, algorithm=ALGORITHM, headers={"kid": keys.kid, "typ": "JWT"}
    )
    return ProofToken(token=token, expires_at=expires_at)


def jwks() -> dict[str, list[dict[str, str]]]:
    return keyring().jwks
