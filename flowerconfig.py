"""Flower's configuration (read by `celery -A project flower --conf=flowerconfig.py`).

Flower shows every task's arguments and can revoke tasks and shut workers down, so it never
runs open: FLOWER_BASIC_AUTH (`user:password`) is required unless DJANGO_DEBUG=True
(production unless said otherwise, like the settings).
Its /metrics and /healthcheck stay unauthenticated by Flower's design (for Prometheus and
load balancers): keep Flower's port off the public network.
"""

import os
import sys

_debug = os.environ.get("DJANGO_DEBUG", "False").strip().lower() in ("1", "true", "yes", "on")
_auth = os.environ.get("FLOWER_BASIC_AUTH", "").strip()

if _auth:
    if ":" not in _auth:
        sys.exit("FLOWER_BASIC_AUTH must be user:password")
    basic_auth = [_auth]
elif not _debug:
    sys.exit("FLOWER_BASIC_AUTH is required when DJANGO_DEBUG=False (user:password).")

# Keep a bounded history: Flower holds task events in memory.
max_tasks = 10000
# The broker API is how Flower reads queue lengths for Redis (the "Broker" tab).
purge_offline_workers = 600
