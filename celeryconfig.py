"""Every Celery setting of the service (lowercase keys only).

https://docs.celeryq.dev/en/stable/userguide/configuration.html

Celery (over Redis or RabbitMQ) is at-least-once at best, so correctness lives in the row's
state machine (the send task's claim, verification/sending.py); these settings make
redelivery fast and publishing bounded. Names Celery must not read as settings start with an
underscore.
"""

import os

from django.conf import settings
from kombu import Exchange, Queue

# BROKER
# ------------------------------------------------------------------------------
# The one source of the broker URL (Django's settings hold none). Django's settings are read
# first: they load `.env` into the environment, so every process finds the same broker
# whichever of Django or Celery it configures first.
_redis_url = settings.REDIS_URL
broker_url = os.environ.get("CELERY_BROKER_URL") or _redis_url
# RabbitMQ (amqp://) or Redis (redis://): the two differ in how they keep messages safe.
_broker_is_amqp = broker_url.split("://", 1)[0].lower() in {"amqp", "amqps", "pyamqp"}
# Short socket timeouts: a black-holed broker must not hang a request that publishes.
_broker_socket_timeout = float(os.environ.get("CELERY_BROKER_SOCKET_TIMEOUT", "1"))
if _broker_is_amqp:
    # RabbitMQ redelivers a dead consumer's unacknowledged messages as soon as its connection
    # drops: no visibility timeout. Publisher confirms: a publish returns once the broker has
    # taken the message (onto a quorum queue: replicated and on disk), and a refused one
    # raises instead of vanishing; verification/dispatch.py bounds the wait for the confirm.
    broker_transport_options: dict[str, object] = {"confirm_publish": True}
else:
    # Seconds a delivered-but-unacknowledged message waits before Redis hands it to another
    # worker. It must exceed the send lease (the provider call's deadline plus a margin: a
    # running task holds its message that long) and the longest retry countdown (an ETA
    # message is held unacked until it runs: RETRY_BACKOFF_MAX in verification/sending.py,
    # 45 s, and the funds pause, 60 s + 5 s of jitter), or a healthy task would run twice;
    # `sms_check` compares them. The default is an hour, which is how long a whole-worker
    # crash would otherwise delay a code.
    _visibility_timeout = int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "75"))
    broker_transport_options = {
        "visibility_timeout": _visibility_timeout,
        # Scan for unacked messages of dead workers every 10 s instead of every 100 s.
        "unacked_restore_interval": 10,
        "unacked_restore_throttle": 1,
        "socket_timeout": _broker_socket_timeout,
        "socket_connect_timeout": _broker_socket_timeout,
        "socket_keepalive": True,
        "health_check_interval": 25,
    }
    # kombu's Redis transport, minus a new Redis client per publish and per ack
    # (project/redis_transport.py); rediss:// and sentinel:// keep kombu's own.
    if broker_url.split("://", 1)[0].lower() == "redis":
        broker_transport = "project.redis_transport:Transport"
# AMQP takes the connect timeout (TCP and the AMQP handshake) from here.
broker_connection_timeout = _broker_socket_timeout
# Workers keep reconnecting when the broker comes back after a restart.
broker_connection_retry_on_startup = True
broker_connection_max_retries = None
# A lost broker connection re-queues (acks_late) what was running; cancel it rather than
# letting it finish into an ack that can no longer be delivered.
worker_cancel_long_running_tasks_on_connection_loss = True

# PUBLISHING
# ------------------------------------------------------------------------------
# By default `delay()` retries for ever against a dead broker. The send-code request publishes
# after its commit; the row is the outbox and beat re-dispatches it, so one quick retry is
# enough and the request never waits more than about a second.
task_publish_retry = True
task_publish_retry_policy = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}

# SERIALIZATION AND RESULTS
# ------------------------------------------------------------------------------
# JSON only: tasks carry ids, never objects, and pickle from a broker is code execution.
task_serializer = "json"
result_serializer = "json"
accept_content = ["json"]
# Nobody waits on a result: the row holds the outcome.
task_ignore_result = True
result_backend = None
timezone = "UTC"
enable_utc = True

# QUEUES AND ROUTES
# ------------------------------------------------------------------------------
if _broker_is_amqp:
    # Durable quorum queues: replicated, on disk, and safe from a broker node's loss. Quorum
    # queues have no global QoS, so a worker's prefetch is static (Celery detects them:
    # worker_detect_quorum_queues), and a retry countdown cannot wait in the worker; Celery
    # sends it through RabbitMQ's native delayed delivery instead, which needs topic
    # exchanges (a direct one would make the worker hold the message until it is due).
    task_queues = tuple(
        Queue(
            name,
            Exchange(name, type="topic"),
            routing_key=name,
            durable=True,
            queue_arguments={"x-queue-type": "quorum"},
        )
        for name in ("sms", "status", "maintenance")
    )
    task_default_queue_type = "quorum"
    task_default_exchange_type = "topic"
else:
    task_queues = (
        Queue("sms"),  # sending codes: latency a user feels
        Queue("status"),  # delivery polling
        Queue("maintenance"),  # re-dispatch, sweeping, balance
    )
task_default_queue = "maintenance"
# Routed by explicit task name, so renaming a module never moves a task to another queue.
task_routes = {
    "sms.*": {"queue": "sms"},
    "status.*": {"queue": "status"},
    "maintenance.*": {"queue": "maintenance"},
}
imports = ("workers.sending", "workers.polling", "workers.housekeeping")

# DELIVERY GUARANTEES
# ------------------------------------------------------------------------------
# Acknowledge after the task ran, so a crash mid-send redelivers the message...
task_acks_late = True
# ...including when the pool child is killed (acks_late alone acks a lost child's message).
task_reject_on_worker_lost = True
# One message in hand per slot: a worker that dies holds as few messages as possible.
worker_prefetch_multiplier = 1

# TIME LIMITS
# ------------------------------------------------------------------------------
# A provider call is bounded by GREEN_SMS_TIMEOUT (10 s); a task taking longer is stuck.
task_soft_time_limit = int(os.environ.get("CELERY_TASK_SOFT_TIME_LIMIT", "25"))
task_time_limit = int(os.environ.get("CELERY_TASK_TIME_LIMIT", "30"))
# Warm shutdown waits for running tasks; soft shutdown then gives them this long before
# re-queueing what is left (Celery >= 5.5).
worker_soft_shutdown_timeout = 10.0
worker_enable_soft_shutdown_on_idle = True

# WORKERS
# ------------------------------------------------------------------------------
# Task events cost the worker three extra publishes per task, and the sent event one more
# per send-code request: off by default. Flower switches worker events on while it runs
# (its --enable-events, on by default), which is when anyone looks at them.
worker_send_task_events = False
task_send_sent_event = False
worker_hijack_root_logger = False  # Django's LOGGING configures logging
worker_max_tasks_per_child = 10000

# BEAT
# ------------------------------------------------------------------------------
# Schedules are django-celery-beat rows (created on migrate, editable in the admin).
# Run exactly one beat: django-celery-beat has no lock.
beat_scheduler = "django_celery_beat.schedulers:DatabaseScheduler"
