"""Benchmark-only settings: the project's, plus the comparison endpoints of `bench_urls`.

Every process of a benchmark (gunicorn, the worker line, the orchestrator) runs with
`DJANGO_SETTINGS_MODULE=benchmarks.bench_settings`, so all endpoints share one gunicorn
configuration and nothing in `project/` changes.
"""

from project.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.bench_urls"

# What-if (tables only): `BENCH_DB_POOL=N` uses Django's psycopg connection pool (max N
# connections per process) instead of one persistent connection per thread. Needs
# psycopg_pool importable (`pip install "psycopg[pool]"`).
if env.int("BENCH_DB_POOL", default=0):  # noqa: F405
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405 - pooling requires it
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {  # noqa: F405
        "min_size": 2,
        "max_size": env.int("BENCH_DB_POOL"),  # noqa: F405
        "timeout": 10,
    }
