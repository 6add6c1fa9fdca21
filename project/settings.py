"""Django settings: every value comes from the environment or a `.env` file (SPEC §3).

https://docs.djangoproject.com/en/5.2/ref/settings/
"""

import sys
import warnings
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from project import startup

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# GENERAL
# ------------------------------------------------------------------------------
# Fail closed: without DJANGO_DEBUG=True in the environment the service runs as production
# (`make run`, `make test` and .env.example turn debug on explicitly).
DEBUG = env.bool("DJANGO_DEBUG", default=False)
_DEV_SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"  # noqa: S105 - DEBUG only
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        # Codes are stored as HMACs keyed with this value: a guessable key in production
        # would let anyone with a database dump brute-force them.
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is required when DJANGO_DEBUG=False. "
            "Set it in the environment or in .env "
            '(python -c "import secrets; print(secrets.token_urlsafe(50))").'
        )
    warnings.warn("DJANGO_SECRET_KEY is not set: using a development-only key.", stacklevel=1)
    SECRET_KEY = _DEV_SECRET_KEY
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# INTERNATIONALIZATION
# https://docs.djangoproject.com/en/5.2/topics/i18n/
# ------------------------------------------------------------------------------
LANGUAGE_CODE = "ru"
LANGUAGES = [("ru", "Русский"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "verification" / "locale"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

# APPS
# ------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "django_celery_beat",
    "verification",
]

MIDDLEWARE = [
    # Before SecurityMiddleware: X-Forwarded-Proto counts from TRUSTED_PROXIES only.
    "verification.api.proxy_headers.TrustedProxyHeadersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # Before anything reads a body (and after LocaleMiddleware, for the message's language).
    "verification.api.body_limit.RequestBodyLimitMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# SECURITY: behind a TLS-terminating proxy (SPEC §15)
# https://docs.djangoproject.com/en/5.2/ref/settings/#secure-proxy-ssl-header
# ------------------------------------------------------------------------------
# Request bodies above this get 413 before anything parses them (verification/api/body_limit.py).
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=16384)
BEHIND_TLS_PROXY = env.bool("DJANGO_BEHIND_TLS_PROXY", default=False)
# Believed from TRUSTED_PROXIES only (verification/api/proxy_headers.py drops it otherwise).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_TLS_PROXY else None
SECURE_SSL_REDIRECT = BEHIND_TLS_PROXY
# Probes on the host (health checks, the metrics scraper) talk to gunicorn directly.
SECURE_REDIRECT_EXEMPT = [r"^health/$", r"^metrics$"]
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = BEHIND_TLS_PROXY
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=True)
# Preloading is the domain owner's decision (hstspreload.org) and slow to undo: opt-in, and
# its deploy-check reminder (security.W021) is silenced.
SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", default=False)
SILENCED_SYSTEM_CHECKS = ["security.W021"]
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# DATABASE
# https://docs.djangoproject.com/en/5.2/ref/databases/#persistent-connections
# ------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
# Persistent connections: opening a PostgreSQL connection per request costs more than the
# whole send-code request.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=600)
# Health checks cost a `SELECT 1` round trip per request. Without them, a connection the
# server dropped (a restart) fails one request per process with a 503, then is replaced.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DATABASE_CONN_HEALTH_CHECKS", default=False)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite is for development: let the web process, the worker's threads and the tests'
    # worker share one file (WAL: readers never block the writer; IMMEDIATE: a writer waits
    # for the lock instead of failing on upgrade). An in-memory test database cannot be
    # shared across threads without "table is locked" errors, hence a file for tests too.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / ".test-db.sqlite3")}
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Fail fast when the database is unreachable, so the API answers 503 instead of hanging.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 3)
    # The hot path's fixed statements (verification/bound_sql.py) are prepared on each
    # connection after this many runs. Django leaves prepared statements off for connection
    # poolers; behind a PgBouncer older than 1.21 in transaction mode, set it empty (off).
    _prepare_threshold = env.str("DATABASE_PREPARE_THRESHOLD", default="5").strip()
    DATABASES["default"]["OPTIONS"]["prepare_threshold"] = (
        int(_prepare_threshold) if _prepare_threshold else None
    )

# REDIS (cache, rate limits)
# https://github.com/jazzband/django-redis
# ------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
# Short timeouts: Redis only speeds things up; when it is gone the request must go on.
REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", default=0.5)
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "verification",
        "OPTIONS": {
            "SOCKET_CONNECT_TIMEOUT": REDIS_SOCKET_TIMEOUT,
            "SOCKET_TIMEOUT": REDIS_SOCKET_TIMEOUT,
        },
    }
}

# DJANGO REST FRAMEWORK
# https://www.django-rest-framework.org/api-guide/settings/
# ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON only (anything else: 415), strict (verification/api/parsers.py).
    "DEFAULT_PARSER_CLASSES": ["verification.api.parsers.StrictJSONParser"],
    # A public API: no sessions, no CSRF, no user lookups on the hot path.
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "verification.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Phone verification API",
    "DESCRIPTION": "One-time SMS codes: request a code, then check it.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The link from send-code's answer to the verification's status (verification/api/schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "verification.api.schema.add_links",
    ],
}

# GREENSMS (SPEC §6)
# ------------------------------------------------------------------------------
GREEN_SMS_USER = env.str("GREEN_SMS_USER", default="")
GREEN_SMS_PASSWORD = env.str("GREEN_SMS_PASSWORD", default="")
GREEN_SMS_TOKEN = env.str("GREEN_SMS_TOKEN", default="")
# Follows DJANGO_DEBUG unless set: a production server never logs codes by omission.
GREEN_SMS_DEBUG = env.bool("GREEN_SMS_DEBUG", default=DEBUG)
if GREEN_SMS_DEBUG and not DEBUG:
    # The debug backend writes every code to the log: in production that hands them to
    # whoever reads the logs, and no SMS ever leaves.
    raise ImproperlyConfigured(
        "GREEN_SMS_DEBUG=True is refused when DJANGO_DEBUG=False: codes would be written to "
        "the logs instead of being sent. Set GREEN_SMS_DEBUG=False (and the GreenSMS "
        "credentials), or DJANGO_DEBUG=True for development."
    )
GREEN_SMS_BASE_URL = startup.provider_url(
    env.str("GREEN_SMS_BASE_URL", default="https://api3.greensms.ru")
)
GREEN_SMS_SENDER = env.str("GREEN_SMS_SENDER", default="")
GREEN_SMS_TIMEOUT = env.float("GREEN_SMS_TIMEOUT", default=10)
GREEN_SMS_LOW_BALANCE = env.float("GREEN_SMS_LOW_BALANCE", default=100)
GREEN_SMS_DEBUG_BALANCE = env.float("GREEN_SMS_DEBUG_BALANCE", default=1000)
GREEN_SMS_TEMPLATE = env.str("GREEN_SMS_TEMPLATE", default="Ваш код: {code}")
GREEN_SMS_TEMPLATE_EN = env.str("GREEN_SMS_TEMPLATE_EN", default="Your code: {code}")
# Autofill (verification/texts.py): the WebOTP origin line `@domain #code`, the Android SMS
# Retriever app hash. https://wicg.github.io/sms-one-time-codes/
WEBOTP_DOMAIN = env.str("WEBOTP_DOMAIN", default="")
ANDROID_APP_HASH = env.str("ANDROID_APP_HASH", default="")
# Seconds sends pause after the provider reports insufficient funds (the breaker's cooldown).
GREEN_SMS_FUNDS_PAUSE = env.int("GREEN_SMS_FUNDS_PAUSE", default=60)
GREEN_SMS_BALANCE_INTERVAL = env.int("GREEN_SMS_BALANCE_INTERVAL", default=3600)

# VERIFICATION (SPEC §3, §5)
# ------------------------------------------------------------------------------
VERIFICATION_CODE_TTL = env.int("VERIFICATION_CODE_TTL", default=300)
VERIFICATION_MAX_ATTEMPTS = env.int("VERIFICATION_MAX_ATTEMPTS", default=5)
VERIFICATION_RETENTION_DAYS = env.int("VERIFICATION_RETENTION_DAYS", default=30)
VERIFICATION_POLL_INTERVAL = env.int("VERIFICATION_POLL_INTERVAL", default=30)
VERIFICATION_DISPATCH_AFTER = env.int("VERIFICATION_DISPATCH_AFTER", default=30)
# Rows still without a final delivery status this long after sending are given up (failed).
VERIFICATION_POLL_HORIZON = env.int("VERIFICATION_POLL_HORIZON", default=3600)
VERIFICATION_SWEEP_INTERVAL = env.int("VERIFICATION_SWEEP_INTERVAL", default=300)
# Seconds between runs of the admin statistics page's hourly rollup (beat).
VERIFICATION_STATS_ROLLUP_INTERVAL = env.int("VERIFICATION_STATS_ROLLUP_INTERVAL", default=600)
# First retry delay of a failed send; later ones double, full jitter (verification/sending.py).
VERIFICATION_SEND_RETRY_BASE = env.float("VERIFICATION_SEND_RETRY_BASE", default=2.0)
# The phone's live code cached in Redis for the verify path (a hint; the row decides).
VERIFICATION_CODE_CACHE = env.bool("VERIFICATION_CODE_CACHE", default=True)
# Seconds a process holds its metric counts before adding them to Redis in one round trip
# (verification/metrics.py); 0 writes every event at once.
VERIFICATION_METRICS_FLUSH_INTERVAL = env.float("VERIFICATION_METRICS_FLUSH_INTERVAL", default=1.0)
# `+79990000001=123456,...`: fixed codes, no message sent (store review, QA; test_numbers.py).
VERIFICATION_TEST_NUMBERS = env.list("VERIFICATION_TEST_NUMBERS", default=[])

# CHANNELS (SPEC §13)
# ------------------------------------------------------------------------------
_KNOWN_CHANNELS = ("sms", "call", "voice", "viber")
VERIFICATION_CHANNELS = env.list("VERIFICATION_CHANNELS", default=["sms"])
VERIFICATION_DEFAULT_CHANNEL = env.str("VERIFICATION_DEFAULT_CHANNEL", default="sms")
# Tried once when an SMS fails while its code still lives (empty: no fallback).
VERIFICATION_FALLBACK_CHANNEL = env.str("VERIFICATION_FALLBACK_CHANNEL", default="")
if not set(VERIFICATION_CHANNELS) <= set(_KNOWN_CHANNELS) or not VERIFICATION_CHANNELS:
    raise ImproperlyConfigured(
        "VERIFICATION_CHANNELS: a comma list of " + ", ".join(_KNOWN_CHANNELS)
    )
if VERIFICATION_DEFAULT_CHANNEL not in VERIFICATION_CHANNELS:
    raise ImproperlyConfigured("VERIFICATION_DEFAULT_CHANNEL must be one of VERIFICATION_CHANNELS")
if VERIFICATION_FALLBACK_CHANNEL not in ("", "call", "voice"):
    raise ImproperlyConfigured("VERIFICATION_FALLBACK_CHANNEL must be empty, call or voice")

RATE_LIMIT_SEND_PER_HOUR = env.int("RATE_LIMIT_SEND_PER_HOUR", default=5)
RATE_LIMIT_VERIFY_PER_HOUR = env.int("RATE_LIMIT_VERIFY_PER_HOUR", default=5)
RATE_LIMIT_SEND_PER_IP_PER_HOUR = env.int("RATE_LIMIT_SEND_PER_IP_PER_HOUR", default=30)
TRUSTED_PROXIES = startup.trusted_proxies(env.list("TRUSTED_PROXIES", default=[]))
if BEHIND_TLS_PROXY and not TRUSTED_PROXIES:
    # No proxy is believed, so every request would look like plain http: a redirect loop.
    raise ImproperlyConfigured("DJANGO_BEHIND_TLS_PROXY=True needs TRUSTED_PROXIES (the proxy)")

# PROOF TOKENS (SPEC §12)
# https://pyjwt.readthedocs.io/en/stable/usage.html#encoding-decoding-tokens-with-eddsa-ed25519
# ------------------------------------------------------------------------------
# Ed25519 private key (PEM) signing verify-code's token; literal `\n` line breaks allowed.
VERIFICATION_TOKEN_PRIVATE_KEY = env.str("VERIFICATION_TOKEN_PRIVATE_KEY", default="")
VERIFICATION_TOKEN_PRIVATE_KEY_FILE = env.str("VERIFICATION_TOKEN_PRIVATE_KEY_FILE", default="")
# DEBUG without a key: one is generated once into this git-ignored file.
VERIFICATION_TOKEN_DEV_KEY_FILE = BASE_DIR / ".run" / "token-signing-key.pem" if DEBUG else None
if not DEBUG and not (VERIFICATION_TOKEN_PRIVATE_KEY or VERIFICATION_TOKEN_PRIVATE_KEY_FILE):
    # A generated key differs per host and silently changes when its file is lost: tokens
    # would stop verifying. Production names its key.
    raise ImproperlyConfigured(
        "VERIFICATION_TOKEN_PRIVATE_KEY or VERIFICATION_TOKEN_PRIVATE_KEY_FILE is required when "
        "DJANGO_DEBUG=False (an Ed25519 PEM: openssl genpkey -algorithm ed25519)."
    )
VERIFICATION_TOKEN_TTL = env.int("VERIFICATION_TOKEN_TTL", default=600)
VERIFICATION_TOKEN_ISSUER = env.str("VERIFICATION_TOKEN_ISSUER", default="phone-verification")
VERIFICATION_TOKEN_AUDIENCE = env.str("VERIFICATION_TOKEN_AUDIENCE", default="")
# PEM files of retired keys still published in the JWKS while their tokens may be in use.
VERIFICATION_TOKEN_PUBLIC_KEYS = env.list("VERIFICATION_TOKEN_PUBLIC_KEYS", default=[])
# Seconds verifiers may cache /.well-known/jwks.json.
VERIFICATION_JWKS_MAX_AGE = env.int("VERIFICATION_JWKS_MAX_AGE", default=300)

# ABUSE PROTECTION (SPEC §11; README "Abuse protection" explains every value)
# Validated at start-up by verification/abuse/policy.py: a typo stops the service.
# ------------------------------------------------------------------------------
VERIFICATION_ALLOWED_COUNTRIES = env.list("VERIFICATION_ALLOWED_COUNTRIES", default=["RU"])
VERIFICATION_RESEND_COOLDOWN = env.int("VERIFICATION_RESEND_COOLDOWN", default=60)
RATE_LIMIT_SEND_PER_DAY = env.int("RATE_LIMIT_SEND_PER_DAY", default=10)
RATE_LIMIT_VERIFY_PER_IP_PER_HOUR = env.int("RATE_LIMIT_VERIFY_PER_IP_PER_HOUR", default=60)
# The per-phone limits count per phone and client; a phone across all clients may reach
# this many times as much, so a stranger who spends his own quota leaves the owner his.
RATE_LIMIT_PHONE_CEILING = env.int("RATE_LIMIT_PHONE_CEILING", default=2)
ABUSE_PROTECTION = env.str("ABUSE_PROTECTION", default="deny")
ABUSE_ALLOW_IPS = env.list("ABUSE_ALLOW_IPS", default=[])
ABUSE_ALLOW_PHONES = env.list("ABUSE_ALLOW_PHONES", default=[])
# Floors of the adaptive rules: unverified codes tolerated before any history exists.
ABUSE_FLOOR_COUNTRY_HOUR = env.int("ABUSE_FLOOR_COUNTRY_HOUR", default=200)
ABUSE_FLOOR_COUNTRY_DAY = env.int("ABUSE_FLOOR_COUNTRY_DAY", default=1000)
ABUSE_FLOOR_PREFIX_HOUR = env.int("ABUSE_FLOOR_PREFIX_HOUR", default=30)
ABUSE_FLOOR_IP_HOUR = env.int("ABUSE_FLOOR_IP_HOUR", default=10)
ABUSE_FLOOR_IP_DAY = env.int("ABUSE_FLOOR_IP_DAY", default=30)
ABUSE_FLOOR_COUNTRIES_PER_IP = env.int("ABUSE_FLOOR_COUNTRIES_PER_IP", default=3)
# Retention of AbuseDecision rows; the verifications' by default.
ABUSE_DECISION_RETENTION_DAYS = env.int(
    "ABUSE_DECISION_RETENTION_DAYS", default=VERIFICATION_RETENTION_DAYS
)
# Spend caps in the account's currency; empty = no cap.
GREEN_SMS_BUDGET_PER_HOUR = env.str("GREEN_SMS_BUDGET_PER_HOUR", default="")
GREEN_SMS_BUDGET_PER_DAY = env.str("GREEN_SMS_BUDGET_PER_DAY", default="")
# One message's price while the provider's tariff is unknown.
GREEN_SMS_PRICE = env.float("GREEN_SMS_PRICE", default=4.0)
GREEN_SMS_TARIFF_INTERVAL = env.int("GREEN_SMS_TARIFF_INTERVAL", default=3600)

# METRICS (SPEC §14)
# https://prometheus.github.io/client_python/
# ------------------------------------------------------------------------------
# `user:password` for GET /metrics; without it only a direct loopback client may read it.
METRICS_BASIC_AUTH = env.str("METRICS_BASIC_AUTH", default="")

# LOGGING
# ------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
CELERY_TASK_LOG_LEVEL = env.str("CELERY_TASK_LOG_LEVEL", default="WARNING")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "stream": sys.stderr, "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # urllib3 logs every request line at DEBUG, and the greensms client puts the
        # provider login and password in the query string: never let it print URLs.
        "urllib3": {"level": "WARNING"},
        "django.db.backends": {"level": "INFO"},
        # Celery's two lines per task ("received", "succeeded in"): a send logs its own
        # outcome ("sent ... (request_id ...)"), and these cost a worker CPU on every task.
        "celery.app.trace": {"level": CELERY_TASK_LOG_LEVEL},
        "celery.worker.strategy": {"level": CELERY_TASK_LOG_LEVEL},
    },
}
