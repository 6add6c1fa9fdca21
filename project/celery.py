"""The Celery app, wired the canonical Django way.

https://docs.celeryq.dev/en/stable/django/first-steps-with-django.html
"""

import os
from typing import Any

from celery import Celery, signals

# Before the app is built: Celery's Django fixup (Django set up in the worker, database
# connections handled around tasks) only activates when DJANGO_SETTINGS_MODULE is already
# set; celeryconfig reads Django's settings too.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

app = Celery("verification")
app.config_from_object("celeryconfig")

# Celery's Django fixup closes every database connection before and after each task unless
# this (undocumented, uppercase) key is set: a new PostgreSQL session per send cost ~2 ms of
# worker CPU and a server process each (benchmarks/drain.py). Tasks are treated like Django
# treats requests instead (below): CONN_MAX_AGE and CONN_HEALTH_CHECKS apply.
app.conf["CELERY_DB_REUSE_MAX"] = 2**31

# Every worker reports the queues it consumes, for /metrics (by name: no import cycle).
app.steps["worker"].add("workers.heartbeat:Heartbeat")


@signals.task_prerun.connect
@signals.task_postrun.connect
def _recycle_database_connections(**_: Any) -> None:
    from django.db import close_old_connections

    close_old_connections()
