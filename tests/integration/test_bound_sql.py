"""The hot path's fixed statements on PostgreSQL: server-bound, prepared once per connection
after DATABASE_PREPARE_THRESHOLD runs (PostgreSQL then skips parsing and planning them),
and never prepared when the threshold is off (connection poolers)."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection

from tests.factories import make_verification
from verification import sending
from verification.models import DeliveryStatus, SMSVerification

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's"
    ),
]

SEND = "/api/auth/send-code/"
TABLE = SMSVerification._meta.db_table


def _prepared_inserts() -> list[str]:
    return [s for s in _prepared_statements() if s.startswith(f'INSERT INTO "{TABLE}"')]


def _send_codes(api_client, count: int) -> None:
    for n in range(count):
        response = api_client.post(SEND, {"phone": f"+7999123{n:04d}"}, format="json")
        assert response.status_code == 202


def test_send_codes_insert_is_prepared_after_the_threshold(api_client, settings):
    connection.ensure_connection()
    threshold = settings.DATABASES["default"]["OPTIONS"]["prepare_threshold"]
    assert connection.connection.prepare_threshold == threshold == 5

    _send_codes(api_client, threshold + 1)

    assert len(_prepared_inserts()) == 1
    assert SMSVerification.objects.count() == threshold + 1


def test_nothing_is_prepared_with_the_threshold_off(api_client, monkeypatch):
    connection.ensure_connection()
    # What DATABASE_PREPARE_THRESHOLD="" gives a new connection.
    monkeypatch.setattr(connection.connection, "prepare_threshold", None)

    _send_codes(api_client, 8)

    assert _prepared_inserts() == []
    assert SMSVerification.objects.count() == 8


@pytest.mark.django_db(transaction=True)
def test_a_migration_changing_a_returned_column_costs_no_claim():
    """A worker that prepared its claim keeps claiming after a migration widened a column
    the claim returns (the deploy migrates before it restarts the workers)."""
    rows = [make_verification(phone=f"+7999123{n:04d}")[0] for n in range(8)]
    for row in rows[:7]:  # past the threshold: the claim is now a prepared statement
        assert sending._claim(row.id) is not None
    assert any("RETURNING" in s for s in _prepared_statements())

    settings = connection.settings_dict
    with psycopg.connect(
        dbname=settings["NAME"], user=settings["USER"], host=settings["HOST"],
        port=settings["PORT"] or 5432, autocommit=True,
    ) as migration:  # fmt: skip
        migration.execute(f'ALTER TABLE "{TABLE}" ALTER COLUMN channel TYPE varchar(12)')
        try:
            claimed = sending._claim(rows[7].id)
        finally:
            migration.execute(f'ALTER TABLE "{TABLE}" ALTER COLUMN channel TYPE varchar(8)')

    assert claimed is not None
    assert claimed.id == rows[7].id
    assert SMSVerification.objects.get(id=rows[7].id).status == DeliveryStatus.SENDING


def _prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [s for (s,) in cursor.fetchall()]
