"""Celery tasks: sending."""
