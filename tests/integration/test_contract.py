"""Contract fuzzing: Schemathesis, every check, against /api/schema/ of a live server.

No answer may be a 5xx or contradict the schema (status, headers, content type, body), and
requests the schema forbids must be refused. Bounded: a fixed seed and example count keep
the run to seconds; `schemathesis.toml` holds the documented refusals of well-formed
requests (a number that does not exist, a wrong code).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
MAX_EXAMPLES = 25

pytestmark = [pytest.mark.contract, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def fuzzable(settings):
    """Limits high enough for the fuzzer to reach the code behind them."""
    settings.RATE_LIMIT_SEND_PER_HOUR = 10_000
    settings.RATE_LIMIT_SEND_PER_DAY = 10_000
    settings.RATE_LIMIT_SEND_PER_IP_PER_HOUR = 10_000
    settings.RATE_LIMIT_VERIFY_PER_HOUR = 10_000
    settings.RATE_LIMIT_VERIFY_PER_IP_PER_HOUR = 10_000
    return settings


def test_the_api_keeps_its_openapi_contract(live_server, fuzzable):
    # when Schemathesis runs every phase and every check against the live API
    result = subprocess.run(
        [
            str(SCHEMATHESIS),
            "--config-file",
            str(ROOT / "schemathesis.toml"),
            "--no-color",
            "run",
            f"{live_server.url}/api/schema/",
            "--checks",
            "all",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--seed",
            "1",
            "--workers",
            "1",
            "--request-timeout",
            "20",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    # then it finds nothing
    print(result.stdout)  # noqa: T201 - the run's report, shown with -s and on failure
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
