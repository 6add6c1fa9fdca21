"""The `/_sandbox/*` endpoints: what tests and people use to inspect and steer the sandbox."""

from __future__ import annotations

import json
from urllib.parse import SplitResult, parse_qs

from verification.sandbox.protocol import Reply, error_reply, json_reply
from verification.sandbox.state import ConfigError, SandboxState


def control_reply(state: SandboxState, method: str, url: SplitResult, body: bytes) -> Reply:
    path = url.path
    if path == "/_sandbox/messages" and method == "GET":
        to = parse_qs(url.query).get("to", [None])[0]
        return json_reply(200, state.messages(to))
    if path == "/_sandbox/stats" and method == "GET":
        return json_reply(200, state.stats())
    if path == "/_sandbox/config" and method == "GET":
        return json_reply(200, state.config_dict())
    if path == "/_sandbox/config" and method == "POST":
        return _configure(state, body)
    if path == "/_sandbox/reset" and method == "POST":
        state.reset()
        return json_reply(200, {"reset": True})
    return error_reply(404, "Unknown sandbox endpoint", 404)


def _configure(state: SandboxState, body: bytes) -> Reply:
    try:
        changes = json.loads(body or b"{}")
    except ValueError:
        return error_reply(400, "Body must be a JSON object", 2)
    if not isinstance(changes, dict):
        return error_reply(400, "Body must be a JSON object", 2)
    try:
        return json_reply(200, state.configure(**changes))
    except ConfigError as exc:
        return error_reply(400, str(exc), 2)
