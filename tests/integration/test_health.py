from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_health_ok_when_everything_answers(api_client):
    response = api_client.get("/health/")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "redis": "ok", "broker": "ok"}


def test_health_is_503_down_when_the_database_is_unreachable(api_client, monkeypatch):
    from verification import health

    monkeypatch.setattr(health, "check_database", lambda: False)

    response = api_client.get("/health/")

    assert response.status_code == 503
    assert response.json()["status"] == "down"
    assert response.json()["database"] == "down"


def test_openapi_schema_and_docs(api_client):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/json")
    docs = api_client.get("/api/docs/")

    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {"/api/auth/send-code/", "/api/auth/verify-code/"} <= set(paths)
    assert "202" in paths["/api/auth/send-code/"]["post"]["responses"]
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()
