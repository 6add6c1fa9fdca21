"""Celery tasks: polling."""
