"""The Ed25519 keys of proof tokens (SPEC §12): the signing key and the published JWKS.

The signing key comes from VERIFICATION_TOKEN_PRIVATE_KEY (PEM; `\\n` escapes accepted so it
fits on one line of an env file) or VERIFICATION_TOKEN_PRIVATE_KEY_FILE. In DEBUG without
either, a key is generated once into a git-ignored file; settings refuse to start outside
DEBUG without one. Public keys listed in VERIFICATION_TOKEN_PUBLIC_KEYS are published too, so
tokens signed by a retired key stay verifiable during a rotation.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from verification.settings_cache import SettingsCached

ALGORITHM = "EdDSA"


@dataclass(frozen=True)
class Keyring:
    signing_key: Ed25519PrivateKey
    kid: str
    jwks: dict[str, list[dict[str, str]]]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def thumbprint(public_key: Ed25519PublicKey) -> str:
    """RFC 7638: SHA-256 of the required members (crv, kty, x) as sorted, compact JSON."""
    members = {"crv": "Ed25519", "kty": "OKP", "x": _b64url(_raw(public_key))}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True)
    return _b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


def public_jwk(public_key: Ed25519PublicKey) -> dict[str, str]:
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": _b64url(_raw(public_key)),
        "kid": thumbprint(public_key),
        "use": "sig",
        "alg": ALGORITHM,
    }


def private_key_from_pem(pem: bytes, source: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(f"{source}: not an unencrypted PEM private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ImproperlyConfigured(f"{source}: the key must be Ed25519")
    return key


def public_key_from_pem(pem: bytes, source: str) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError:
        # A private key file is accepted too: its public half is what gets published.
        return private_key_from_pem(pem, source).public_key()
    if not isinstance(key, Ed25519PublicKey):
        raise ImproperlyConfigured(f"{source}: the key must be Ed25519")
    return key


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def read_or_create_key_file(path: Path) -> Ed25519PrivateKey:
    """The key in `path`, generated first if the file does not exist.

    Several processes may start at once (gunicorn workers, a worker, beat): each writes a
    complete candidate to a temporary file and hard-links it into place, which fails if the
    file exists. Exactly one candidate wins and everyone reads the winner; nobody ever sees
    a half-written file.
    """
    try:
        return private_key_from_pem(path.read_bytes(), str(path))
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".token-key-")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(private_key_pem(Ed25519PrivateKey.generate()))
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process won the race: use its key
    finally:
        os.unlink(tmp)
    return private_key_from_pem(path.read_bytes(), str(path))


def _signing_key() -> Ed25519PrivateKey:
    if settings.VERIFICATION_TOKEN_PRIVATE_KEY and settings.VERIFICATION_TOKEN_PRIVATE_KEY_FILE:
        raise ImproperlyConfigured(
            "VERIFICATION_TOKEN_PRIVATE_KEY and VERIFICATION_TOKEN_PRIVATE_KEY_FILE: set one"
        )
    if settings.VERIFICATION_TOKEN_PRIVATE_KEY:
        pem = settings.VERIFICATION_TOKEN_PRIVATE_KEY.replace("\\n", "\n").encode()
        return private_key_from_pem(pem, "VERIFICATION_TOKEN_PRIVATE_KEY")
    if settings.VERIFICATION_TOKEN_PRIVATE_KEY_FILE:
        path = Path(settings.VERIFICATION_TOKEN_PRIVATE_KEY_FILE)
        try:
            pem = path.read_bytes()
        except OSError as exc:
            raise ImproperlyConfigured(
                f"VERIFICATION_TOKEN_PRIVATE_KEY_FILE: cannot read {path}: {exc.strerror}"
            ) from exc
        return private_key_from_pem(pem, "VERIFICATION_TOKEN_PRIVATE_KEY_FILE")
    if settings.VERIFICATION_TOKEN_DEV_KEY_FILE:
        return read_or_create_key_file(Path(settings.VERIFICATION_TOKEN_DEV_KEY_FILE))
    raise ImproperlyConfigured(
        "VERIFICATION_TOKEN_PRIVATE_KEY or VERIFICATION_TOKEN_PRIVATE_KEY_FILE is required "
        "when DJANGO_DEBUG=False"
    )


def _published_keys(current: Ed25519PublicKey) -> list[Ed25519PublicKey]:
    keys = [current]
    for name in settings.VERIFICATION_TOKEN_PUBLIC_KEYS:
        try:
            pem = Path(name).read_bytes()
        except OSError as exc:
            raise ImproperlyConfigured(
                f"VERIFICATION_TOKEN_PUBLIC_KEYS: cannot read {name}: {exc.strerror}"
            ) from exc
        keys.append(public_key_from_pem(pem, f"VERIFICATION_TOKEN_PUBLIC_KEYS ({name})"))
    return keys


def _build() -> Keyring:
    signing_key = _signing_key()
    jwks: dict[str, dict[str, str]] = {}
    for key in _published_keys(signing_key.public_key()):
        jwk = public_jwk(key)
        jwks.setdefault(jwk["kid"], jwk)  # the current key first, each key once
    return Keyring(
        signing_key=signing_key,
        kid=thumbprint(signing_key.public_key()),
        jwks={"keys": list(jwks.values())},
    )


def _settings_key() -> tuple[Any, ...]:
    return (
        settings.VERIFICATION_TOKEN_PRIVATE_KEY,
        settings.VERIFICATION_TOKEN_PRIVATE_KEY_FILE,
        settings.VERIFICATION_TOKEN_DEV_KEY_FILE,
        tuple(settings.VERIFICATION_TOKEN_PUBLIC_KEYS),
    )


_keyring = SettingsCached(_settings_key, _build)


def keyring() -> Keyring:
    """This process's keys, loaded once per settings. Raises ImproperlyConfigured."""
    return _keyring.get()
