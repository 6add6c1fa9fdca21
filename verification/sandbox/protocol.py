"""The GreenSMS API as the official client (greensms 2.0.1) uses it.

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from verification.sandbox.state import SandboxState, describe

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
            "/sms/status": Route("GET", self.sms_status, "status_calls", faults=True),
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
        message = self.state.record_send(
            to=params["to"],
            txt=params["txt"],
            sender=params.get("from", ""),
            tag=params.get("tag", ""),
            hidden=params.get("hidden", ""),
            login=login,
        )
        if message is None:
            return INSUFFICIENT_FUNDS
        if self.log_sends:
            # Never the text: it carries the code.
            logger.info(
                "sandbox send request_id=%s to=%s from=%s tag=%s",
                message.request_id,
                message.to,
                message.sender or "-",
                message.tag or "-",
            )
        return json_reply(200, {"request_id": message.request_id})

    def sms_status(self, params: Params, login: str) -> Reply:
        request_id = params.get("id", "")
        if not request_id:
            return error_reply(400, "Missing input param: id", 1)
        if len(request_id) != 36:
            return error_reply(400, "Invalid input param: id", 2)
        message = self.state.lookup(request_id)
        if message is None:
            return NOT_FOUND
        code = message.status_code(self.state.clock())
        now = datetime.now(tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
        return json_reply(200, {"time": now, "status": describe(code), "status_code": code})

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
