# `make run` and `make test` work from a fresh clone with nothing but Python 3.11.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
CI_INSTALLED := $(VENV)/.ci-installed
WITH_REDIS := $(BIN)/python scripts/with_redis.py --
# The Celery broker of `run`, `test` and `test-fast`: redis (REDIS_URL, or CELERY_BROKER_URL
# from the environment or .env) or rabbitmq (RABBITMQ_URL), e.g. `make test BROKER=rabbitmq`.
BROKER ?= redis
RABBITMQ_URL ?= amqp://guest:guest@127.0.0.1:5672//
ifeq ($(BROKER),rabbitmq)
export CELERY_BROKER_URL := $(RABBITMQ_URL)
else ifneq ($(BROKER),redis)
$(error BROKER must be redis or rabbitmq, not $(BROKER))
endif
# The settings default to production (fail closed); the development targets say debug
# explicitly, unless the environment or .env already decides.
WITH_REDIS_DEBUG := $(BIN)/python scripts/with_redis.py --default DJANGO_DEBUG=True --

.PHONY: run test test-fast lint types bench sandbox messages install ci-install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(INSTALLED): requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(CI_INSTALLED): requirements-ci.txt $(INSTALLED)
	$(BIN)/python -m pip install --quiet -r requirements-ci.txt
	touch $@

install: $(INSTALLED)
ci-install: $(CI_INSTALLED)

## Start web, worker, beat and Flower (debug SMS mode unless .env says otherwise), with
## WORKER_PROCESSES worker processes (default: one per core; environment or .env).
run: $(INSTALLED)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(WITH_REDIS_DEBUG) sh -c 'python manage.py migrate --noinput && \
	    exec honcho start -c worker=$${WORKER_PROCESSES:-$$(python -c "import os; print(os.cpu_count())")}'

## The whole suite, slow process-level fault tests included. PYTEST_ARGS narrows it.
test: $(INSTALLED)
	$(WITH_REDIS_DEBUG) $(BIN)/python -m pytest $(PYTEST_ARGS)

## Everything but the slow process-level fault tests.
test-fast: $(INSTALLED)
	$(WITH_REDIS_DEBUG) $(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

lint: $(CI_INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(CI_INSTALLED)
	DJANGO_DEBUG=$${DJANGO_DEBUG:-True} $(BIN)/mypy .

## The five benchmarks of benchmarks/ (about 15 minutes; local PostgreSQL and Redis; wrk).
bench: $(INSTALLED)
	$(WITH_REDIS) $(BIN)/python -m benchmarks.run_all --out benchmarks/latest-run.md

## A loopback GreenSMS to point GREEN_SMS_BASE_URL at (http://127.0.0.1:8025).
sandbox: $(INSTALLED)
	DJANGO_DEBUG=$${DJANGO_DEBUG:-True} $(BIN)/python manage.py greensms_sandbox

## Recompile translations after editing verification/locale/*/LC_MESSAGES/django.po.
messages: $(INSTALLED)
	DJANGO_DEBUG=$${DJANGO_DEBUG:-True} $(BIN)/python manage.py compilemessages --ignore=.venv --ignore=deploy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
