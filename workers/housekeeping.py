"""Celery tasks: housekeeping."""
