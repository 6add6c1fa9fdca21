"""Per-channel delivery: which gateway call carries a row's code (SPEC §13).

The send task's claim, retries and bookkeeping are the same for every channel; only the
provider call differs, and for a flash call the code comes back from the provider instead of
going out to it.
"""

from __future__ import annotations

from dataclasses import dataclass

from verification import codes, texts
from verification.gateways import get_gateway
from verification.models import Channel, SMSVerification


@dataclass(frozen=True)
class Dispatched:
    request_id: str
    # A flash call only: the HMAC of the code the provider chose, to store on the row.
    code_hash: str | None = None


def dispatch(row: SMSVerification) -> Dispatched:
    """One provider call for `row` (needs id, phone, channel, code_seed, language).

    Raises ProviderError.
    """
    gateway = get_gateway()
    tag = str(row.id)
    if row.channel == Channel.CALL:
        placed = gateway.send_call(row.phone, tag=tag)
        # Hashed at once; the plaintext code goes no further than this frame.
        return Dispatched(placed.request_id, codes.hash_code(row.id, placed.code))
    code = codes.code_for(row.id, row.code_seed, codes.length_for(row.channel))
    if row.channel == Channel.VOICE:
        # The robot speaks the row's language (the client allows ru|en, as texts.LANGUAGES).
        request_id = gateway.send_voice(row.phone, code, language=row.language, tag=tag)
        return Dispatched(request_id)
    if row.channel == Channel.VIBER:
        # No autofill lines: WebOTP and the SMS Retriever read SMS only.
        text = texts.sms_text(code=code, language=row.language, autofill=False)
        return Dispatched(gateway.send_viber(row.phone, text))
    text = texts.sms_text(code=code, language=row.language)
    return Dispatched(gateway.send(row.phone, text, hidden=code, tag=tag))
