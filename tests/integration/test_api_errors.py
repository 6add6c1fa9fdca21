"""Bad input anywhere is a clear 4xx JSON error, never an HTML page or a 500."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_malformed_json_is_400_parse_error(api_client):
    response = api_client.post(
        "/api/auth/send-code/", data="{not json", content_type="application/json"
    )

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "parse_error"
    assert response.json()["error"]


def test_json_that_is_not_an_object_is_400(api_client):
    response = api_client.post(
        "/api/auth/send-code/", data="[1, 2]", content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"


def test_unsupported_media_type_is_415_json(api_client):
    response = api_client.post("/api/auth/send-code/", data="phone", content_type="text/plain")

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_wrong_method_is_405_json(api_client):
    response = api_client.get("/api/auth/send-code/")

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def test_unknown_path_is_404_json(client, settings):
    settings.DEBUG = False

    response = client.get("/no/such/page/")

    assert response.status_code == 404
    assert response.json() == {"error": "Не найдено", "code": "not_found"}


def test_form_encoded_body_is_refused(api_client):
    # JSON only (SPEC §15): a form body is another parser, another attack surface
    response = api_client.post("/api/auth/send-code/", {"phone": "+79991234567"})

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_database_down_is_503_json(api_client, monkeypatch):
    from django.db import OperationalError

    from verification import services

    def database_gone(**kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(services, "verification_create", database_gone)

    response = api_client.post("/api/auth/send-code/", {"phone": "+79991234567"}, format="json")

    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
