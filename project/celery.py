"""The Celery app, wired the canonical Django way.

https://docs.celeryq.dev/en/stable/django/first-steps-with-django.html
"""

import os

from celery import Celery

# Before the app is built: Celery's Django fixup (which gives tasks `delay_on_commit`)
# only activates when DJANGO_SETTINGS_MODULE is already set.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

app = Celery("verification")
app.config_from_object("celeryconfig")
