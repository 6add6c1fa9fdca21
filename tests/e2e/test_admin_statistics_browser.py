"""The admin statistics page in a real browser: Debian's headless Chromium driven by
Selenium, logged in as staff through the admin's login form, charts drawn with data."""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from verification import codes, metrics
from verification.models import DeliveryStatus, SMSVerification

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "staff-Pa55-word"  # noqa: S105 - a test account
# Calling-code prefixes and how many codes each gets per hour (a plausible mix).
TRAFFIC = {"+7999": 6, "+7701": 2, "+38050": 2, "+1202": 1}


def seed_traffic(now, *, days: int = 30) -> int:
    """Codes requested over `days` days: most delivered, some verified, some failed."""
    rng = random.Random(12)  # noqa: S311 - test data
    rows = []
    for hour in range(days * 24):
        created = now - timedelta(hours=hour, minutes=rng.randint(0, 59))
        for prefix, per_hour in TRAFFIC.items():
            for _ in range(rng.randint(0, per_hour * 2)):
                roll = rng.random()
                status = DeliveryStatus.DELIVERED if roll < 0.85 else DeliveryStatus.FAILED
                row = SMSVerification(
                    phone=f"{prefix}{rng.randint(0, 10**7 - 1):07d}",
                    created_at=created,
                    expires_at=created + timedelta(minutes=5),
                    code_seed=codes.new_seed(),
                    code_hash="x" * 64,
                    status=status,
                    request_id="r",
                    sent_at=created,
                    is_used=status == DeliveryStatus.DELIVERED and rng.random() < 0.8,
                    channel="call" if rng.random() < 0.15 else "sms",
                )
                rows.append(row)
    SMSVerification.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


def chromium_paths() -> tuple[str, str]:
    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if browser is None or driver is None:
        if os.environ.get("CI"):
            pytest.fail("chromium / chromium-driver missing: .ci/run installs them")
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install); CI runs it")
    return browser, driver


@pytest.fixture
def browser() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver = chromium_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,3000",
    ):
        options.add_argument(argument)
    chrome = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    try:
        yield chrome
    finally:
        chrome.quit()


def test_staff_sees_the_charts_drawn_with_data(browser, live_server, django_user_model, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    # given: a month of traffic, a balance reading and a staff account
    seeded = seed_traffic(timezone.now())
    assert seeded > 1000
    metrics.record_balance(Decimal("842.50"))
    django_user_model.objects.create_user("operator", password=PASSWORD, is_staff=True)

    # when: the operator logs in through the admin and opens the page
    browser.get(f"{live_server.url}/admin/login/?next=/admin/statistics/")
    browser.find_element(By.NAME, "username").send_keys("operator")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    WebDriverWait(browser, 20).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "svg.stats-chart"))
    )

    # then: six charts, each line drawn (a rendered length) over real points
    charts = browser.find_elements(By.CSS_SELECTOR, "svg.stats-chart")
    assert len(charts) == 6
    lines = browser.find_elements(By.CSS_SELECTOR, "svg.stats-chart polyline[data-series]")
    drawn = {
        (line.get_attribute("data-series"), int(line.get_attribute("data-points") or 0))
        for line in lines
        if browser.execute_script("return arguments[0].getTotalLength()", line) > 100
    }
    for series in ("sent", "delivered", "verified", "conversion"):
        assert any(name == series and points >= 24 for name, points in drawn), (series, drawn)
    bars = browser.find_elements(By.CSS_SELECTOR, "svg.stats-chart rect[data-series]")
    heights = [float(bar.get_attribute("height")) for bar in bars]
    assert sum(1 for height in heights if height > 1) >= 9  # 4 countries x 3 series, mostly
    countries = browser.find_element(By.ID, "by-country").text
    assert {"RU", "KZ", "UA", "US"} <= set(countries.split())
    assert {"sms", "call"} <= set(browser.find_element(By.ID, "by-channel").text.split())
    assert "842.50" in browser.find_element(By.ID, "stat-balance").text
    assert "closed" in browser.find_element(By.ID, "stat-breaker").text

    # and a screenshot (STATS_SCREENSHOT=path keeps it, e.g. for the README)
    shot = Path(os.environ.get("STATS_SCREENSHOT") or tmp_path / "statistics.png")
    bottom = browser.execute_script(
        "return document.getElementById('content').getBoundingClientRect().bottom"
    )
    browser.set_window_size(1280, int(bottom) + 140)
    assert browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 20_000
