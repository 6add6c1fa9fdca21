"""HTTP for the greensms client: one pooled session per process, timeouts, typed errors.

The client's own HttpClient calls module-level `requests.request` (a new connection per
call, no timeout) and trusts any JSON with an `error` key while dropping the HTTP status.
`PooledHttpClient` keeps its request shape (every parameter in the query string, `user` and
`pass` or a Bearer token, its User-Agent) and replaces the rest.
"""

from __future__ import annotations

import functools
import logging
import os
import re
from typing import Any
from urllib.parse import urlsplit

import requests
from greensms.http.rest import HttpClient
from greensms.utils.attr_dict import AttrDict
from urllib3.util import Timeout

from verification.gateways import prepared
from verification.gateways.classify import parse_response, transport_error
from verification.gateways.deadline import Deadline, DeadlineAdapter
from verification.settings_cache import SettingsCached

# Sized for a threads/gevent worker pool: a thread never waits for a connection
# (pool_block=False); beyond 64 concurrent calls extra connections are opened and dropped.
POOL_MAXSIZE = 64
# A TCP connect that needs more than one SYN retransmission (3 s) is a dead route.
CONNECT_TIMEOUT_CAP = 3.05


def split_timeout(total: float) -> tuple[float, float]:
    """(connect, read) summing to `total`: GREEN_SMS_TIMEOUT bounds connect+read (SPEC §3).

    `requests`' read timeout bounds each wait for bytes, not the whole call: the call's hard
    total deadline is `Deadline` (deadline.py), which PooledHttpClient puts around it.
    """
    connect = min(CONNECT_TIMEOUT_CAP, total / 2)
    return connect, total - connect


def _new_session() -> requests.Session:
    """The pooled adapter and the CA bundle. Calls go to the adapter directly
    (PooledHttpClient.request), never through Session.request, which re-reads the
    environment (proxies, CA bundle, netrc) on every call: the CA bundle is read here, once,
    and the proxies once per host in proxies_for()."""
    session = requests.Session()
    session.verify = (
        os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    )
    # No urllib3 retries: a retried send could deliver a code twice; Celery decides retries.
    adapter = DeadlineAdapter(pool_connections=4, pool_maxsize=POOL_MAXSIZE, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


# One Session per process: a forked child (Celery prefork) must never reuse the parent's
# sockets, as two processes reading one TLS stream corrupt each other's answers. The child
# drops the parent's session without closing it (the parent still uses its connections).
_sessions = SettingsCached(tuple, _new_session)

# Session.request's default headers (User-Agent and Accept are the client's, below).
_HEADERS = dict(requests.utils.default_headers())


def shared_session() -> requests.Session:
    return _sessions.get()


@functools.lru_cache(maxsize=64)
def _proxies_for_origin(origin: str) -> dict[str, str]:
    return dict(requests.utils.get_environ_proxies(origin))


def proxies_for(url: str) -> dict[str, str]:
    """The environment's proxies for `url` (HTTPS_PROXY, NO_PROXY...), as `requests` would
    find them with trust_env, read once per host."""
    parts = urlsplit(url)
    return _proxies_for_origin(f"{parts.scheme}://{parts.netloc}/")


class PooledHttpClient(HttpClient):
    """The client's HttpClient, on the shared session, with a hard deadline and typed errors.

    Thread-safe: `request` only reads instance attributes set in `__init__`.
    """

    def __init__(self, opts: dict[str, Any], *, timeout: tuple[float, float]) -> None:
        super().__init__(opts)
        connect, read = timeout
        self.deadline = connect + read
        # `total` keeps each socket wait within what is left of the deadline, too. requests
        # takes urllib3's Timeout as is (its TimeoutSauce), though its stubs do not say so.
        self._timeout: Any = Timeout(connect=connect, read=read, total=self.deadline)
        self._secrets = tuple(s for s in (self.token, self.default_params.get("pass")) if s)

    def request(self, **kwargs: Any) -> AttrDict:
        method: str = kwargs["method"]
        call_params: dict[str, Any] = kwargs.get("params") or {}
        params = {**self.default_params, **call_params}
        headers = {"User-Agent": self.sdk_version_header, "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        non_idempotent = method.upper() != "GET"
        error = None
        url: str = kwargs["url"]
        # Prepared once per base URL (prepared.py) and sent on the adapter directly: what
        # Session.request would send (its default headers included) minus its per-call
        # merging of cookies, hooks, auth and environment settings, none of which applies.
        request = prepared.prepare(method, url, headers={**_HEADERS, **headers}, params=params)
        session = shared_session()
        try:
            with Deadline(self.deadline) as deadline:
                response = session.get_adapter(url).send(
                    request, timeout=self._timeout, verify=session.verify, proxies=proxies_for(url)
                )
                response.content  # noqa: B018 - read the body within the deadline
        except requests.RequestException as exc:
            # Whatever a cut socket raised, the call ran out of time.
            cause = requests.ReadTimeout("total deadline passed") if deadline.fired else exc
            error = transport_error(cause, non_idempotent=non_idempotent)
        if error is not None:
            # Raised outside the except block so the requests exception (and the URL with
            # the password in it) is not even chained as __context__.
            raise error
        payload = parse_response(
            response.status_code,
            response.headers.get("Content-Type", ""),
            response.content,
            non_idempotent=non_idempotent,
            # The code travels as `hidden` (SMS) or as the whole `txt` (voice).
            secrets=(*self._secrets, *(str(call_params.get(k) or "") for k in ("hidden", "txt"))),
        )
        return AttrDict(payload)


# --- logs ------------------------------------------------------------------------------
_QUERY_STRING = re.compile(r"\?[^\s\"'>)]*")
# urllib3 prints request lines ("POST /sms/send?user=..&pass=.. HTTP/1.1") at DEBUG and
# URLs in retry/redirect warnings; settings keep it at WARNING, this holds at any level.
_URL_LOGGERS = (
    "urllib3.connectionpool",
    "urllib3.connection",
    "urllib3.poolmanager",
    "urllib3.response",
    "urllib3.util.retry",
    "requests",
)


class RedactQueryStrings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "?" in message:
            record.msg, record.args = _QUERY_STRING.sub("?<redacted>", message), None
        return True


def install_log_redaction() -> None:
    """Idempotent; runs on import of this module."""
    for name in _URL_LOGGERS:
        target = logging.getLogger(name)
        if not any(isinstance(f, RedactQueryStrings) for f in target.filters):
            target.addFilter(RedactQueryStrings())


install_log_redaction()
