"""The GreenSMS API as the official client (greensms 2.0.1) uses it: `sms`, `call`, `voice`
and `viber` (send, status), `account` (balance, token) and `general.status`.

Routes are `base_url + module + "/" + function` with no version segment (the client's
`build_url`), and `general.status` is static: `GET /status`. Every parameter travels in the
query string, on POST too (the client never sends a body); form and JSON bodies are
accepted anyway. Auth is `user` + `pass` query parameters, or `Authorization: Bearer`.

Errors are `{"error": str, "code": int}`. The client keys on `code` alone, whatever the
HTTP status (0 AUTH_DECLINED, 1 MISSING_INPUT_PARAM, 2 INVALID_INPUT_PARAM, 404 NOT_FOUND);
the statuses chosen here (401/402/400/404) only make curl output readable.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from verification.sandbox.state import CALLER_ID_PREFIX, SandboxState, describe

logger = logging.getLogger("verification.sandbox")

Params = Mapping[str, str]

_DIGITS = re.compile(r"[0-9]{11,14}")
_FIELD_LIMITS = {"txt": 918, "from": 11, "tag": 36, "hidden": 918}  # the client's schema


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    hold: bool = False  # the `timeout` fault: read the request, never answer


def json_reply(status: int, payload: object, headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    body = json.dumps(payload, ensure_ascii=False).encode()
    return Reply(status=status, body=body, headers=headers)


def error_reply(status: int, message: str, code: int) -> Reply:
    return json_reply(status, {"error": message, "code": code})


AUTH_DECLINED = error_reply(401, "Authorization declined", 0)
INSUFFICIENT_FUNDS = error_reply(402, "Insufficient funds", -1)
NOT_FOUND = error_reply(404, "Not found", 404)

_NGINX_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
FAULTS = {
    "http500": error_reply(500, "Internal Server Error", 500),
    "timeout": Reply(status=0, hold=True),
    "nonjson": Reply(status=502, body=_NGINX_502, content_type="text/html"),
    "auth": AUTH_DECLINED,
    "throttle": json_reply(
        429, {"error": "Too Many Requests", "code": 429}, (("Retry-After", "1"),)
    ),
    "funds": INSUFFICIENT_FUNDS,
}


@dataclass(frozen=True)
class Route:
    method: str
    handler: Callable[[Params, str], Reply]  # (params, login) -> reply
    counter: str | None = None  # which stats counter the call bumps
    faults: bool = False  # whether injected faults apply
    auth: bool = True


class Provider:
    def __init__(self, state: SandboxState, *, log_sends: bool = False) -> None:
        self.state = state
        self.log_sends = log_sends
        self.routes = {
            "/sms/send": Route("POST", self.sms_send, "send_calls", faults=True),
            "/call/send": Route("POST", self.call_send, "send_calls", faults=True),
            "/voice/send": Route("POST", self.voice_send, "send_calls", faults=True),
            "/viber/send": Route("POST", self.viber_send, "send_calls", faults=True),
            **{
                f"/{channel}/status": Route(
                    "GET", partial(self.status, channel), "status_calls", faults=True
                )
                for channel in ("sms", "call", "voice", "viber")
            },
            "/account/balance": Route("GET", self.balance, "balance_calls", faults=True),
            "/account/token": Route("POST", self.token),
            "/account/tariff": Route("GET", self.tariff),
            "/status": Route("GET", self.general_status, auth=False),
        }

    def handle(self, method: str, path: str, params: Params, authorization: str) -> Reply:
        route = self.routes.get(path)
        if route is None:
            return NOT_FOUND
        if method != route.method:
            return error_reply(405, "Method not allowed", 405)
        if route.counter:
            self.state.count(route.counter)
        fault = self.state.draw_fault() if route.faults else None
        if fault is not None:
            return FAULTS[fault]
        login = self._authenticate(params, authorization) if route.auth else ""
        if login is None:
            return AUTH_DECLINED
        return route.handler(params, login)

    def _authenticate(self, params: Params, authorization: str) -> str | None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer":
            return "token" if self.state.check_token(token.strip()) else None
        user, password = params.get("user", ""), params.get("pass", "")
        return "user:" + user if self.state.check_login(user, password) else None

    def sms_send(self, params: Params, login: str) -> Reply:
        invalid = _validate_send(params)
        if invalid is not None:
            return invalid
        return self._record(params, login, "sms", txt=params["txt"], sender=params.get("from", ""))

    def call_send(self, params: Params, login: str) -> Reply:
        """A flash call: the sandbox picks the code and "calls" from a number ending in it."""
        invalid = _validate(params, required=("to",), choices=_CALL_CHOICES)
        if invalid is not None:
            return invalid
        code = f"{secrets.randbelow(10_000):04d}"
        caller_id = CALLER_ID_PREFIX + code
        reply = self._record(params, login, "call", extra={"caller_id": caller_id, "code": code})
        if reply.status != 200:
            return reply
        return json_reply(200, {**json.loads(reply.body), "code": code})

    def voice_send(self, params: Params, login: str) -> Reply:
        invalid = _validate(params, required=("to", "txt"), choices=_VOICE_CHOICES)
        if invalid is not None:
            return invalid
        if not _VOICE_TEXT.fullmatch(params["txt"]):
            return error_reply(400, "Invalid input param: txt", 2)
        language = params.get("language", "ru")
        return self._record(params, login, "voice", txt=params["txt"], extra={"language": language})

    def viber_send(self, params: Params, login: str) -> Reply:
        invalid = _validate(params, required=("to", "txt"), choices=_VIBER_CHOICES)
        if invalid is not None:
            return invalid
        if "from" in params and not 1 <= len(params["from"]) <= 11:
            return error_reply(400, "Invalid input param: from", 2)
        cascade = params.get("cascade", "")
        return self._record(
            params,
            login,
            "viber",
            txt=params["txt"],
            sender=params.get("from", ""),
            extra={"cascade": cascade},
        )

    def _record(
        self,
        params: Params,
        login: str,
        channel: str,
        *,
        txt: str = "",
        sender: str = "",
        extra: dict[str, str] | None = None,
    ) -> Reply:
        message = self.state.record_send(
            to=params["to"],
            txt=txt,
            sender=sender,
            tag=params.get("tag", ""),
            hidden=params.get("hidden", ""),
            login=login,
            channel=channel,
            extra=extra,
        )
        if message is None:
            return INSUFFICIENT_FUNDS
        if self.log_sends:
            # Never the text nor a call's caller id: they carry the code.
            logger.info(
                "sandbox send request_id=%s channel=%s to=%s from=%s tag=%s",
                message.request_id,
                channel,
                message.to,
                message.sender or "-",
                message.tag or "-",
            )
        return json_reply(200, {"request_id": message.request_id})

    def status(self, channel: str, params: Params, login: str) -> Reply:
        request_id = params.get("id", "")
        if not request_id:
            return error_reply(400, "Missing input param: id", 1)
        if len(request_id) != 36:
            return error_reply(400, "Invalid input param: id", 2)
        message = self.state.lookup(request_id)
        if message is None or message.channel != channel:
            return NOT_FOUND  # each module knows its own requests only
        code = message.status_code(self.state.clock())
        now = datetime.now(tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
        body = {"time": now, "status": describe(code, channel), "status_code": code}
        return json_reply(200, body)

    def balance(self, params: Params, login: str) -> Reply:
        return json_reply(200, {"balance": float(self.state.current_balance())})

    def tariff(self, params: Params, login: str) -> Reply:
        return json_reply(200, {"data": self.state.tariff()})

    def token(self, params: Params, login: str) -> Reply:
        try:
            expire = int(params.get("expire", "0") or 0)
        except ValueError:
            return error_reply(400, "Invalid input param: expire", 2)
        if expire < 0:
            return error_reply(400, "Invalid input param: expire", 2)
        return json_reply(200, {"access_token": self.state.issue_token(expire)})

    def general_status(self, params: Params, login: str) -> Reply:
        return json_reply(200, {"status": "ok"})


# The client's schema (greensms/api/schema.py) for the other modules' optional fields.
_CALL_CHOICES = {"voice": ("true", "false"), "language": ("ru", "en")}
_VOICE_CHOICES = {"language": ("ru", "en")}
_VIBER_CHOICES = {"cascade": ("sms", "voice")}
_VOICE_TEXT = re.compile(r"[0-9]{1,5}")


def _validate(
    params: Params, *, required: tuple[str, ...], choices: Mapping[str, tuple[str, ...]]
) -> Reply | None:
    for name in required:
        if not params.get(name):
            return error_reply(400, "Missing input param: " + name, 1)
    if not _DIGITS.fullmatch(params["to"]):
        return error_reply(400, "Invalid input param: to", 2)
    if len(params.get("tag", "")) > _FIELD_LIMITS["tag"]:
        return error_reply(400, "Invalid input param: tag", 2)
    for name, allowed in choices.items():
        if name in params and params[name] not in allowed:
            return error_reply(400, "Invalid input param: " + name, 2)
    return None


def _validate_send(params: Params) -> Reply | None:
    for name in ("to", "txt"):
        if not params.get(name):
            return error_reply(400, "Missing input param: " + name, 1)
    if not _DIGITS.fullmatch(params["to"]):
        return error_reply(400, "Invalid input param: to", 2)
    for name, limit in _FIELD_LIMITS.items():
        if len(params.get(name, "")) > limit:
            return error_reply(400, "Invalid input param: " + name, 2)
    return None
