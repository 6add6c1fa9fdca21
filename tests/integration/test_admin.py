from __future__ import annotations

import pytest

from tests.factories import code_of, make_verification

pytestmark = pytest.mark.django_db


def test_admin_lists_and_shows_verifications_without_any_code_material(admin_client):
    row, _ = make_verification()
    code = code_of(row)

    listing = admin_client.get("/admin/verification/smsverification/?q=%2B7999123")
    detail = admin_client.get(f"/admin/verification/smsverification/{row.id}/change/")

    assert listing.status_code == 200
    assert "+79991234567" in listing.content.decode()
    assert detail.status_code == 200
    for page in (listing.content.decode(), detail.content.decode()):
        assert row.code_hash not in page
        assert row.code_seed not in page
        assert code not in page


def test_admin_filters_by_status(admin_client):
    make_verification(phone="+79991234567", status="sent")
    make_verification(phone="+79991234568", status="failed")

    page = admin_client.get("/admin/verification/smsverification/?status__exact=failed")

    assert "+79991234568" in page.content.decode()
    assert "+79991234567" not in page.content.decode()


def test_admin_shows_and_filters_by_channel_and_the_fallback(admin_client):
    make_verification(phone="+79991234567")
    row, _ = make_verification(phone="+79991234568", channel="call", fallback_from="sms")

    page = admin_client.get("/admin/verification/smsverification/?channel__exact=call")
    detail = admin_client.get(f"/admin/verification/smsverification/{row.id}/change/")

    assert "+79991234568" in page.content.decode()
    assert "+79991234567" not in page.content.decode()
    assert "Fallback from" in detail.content.decode()
