#!/usr/bin/env bash
# Deployment checks (deploy/ansible): syntax, ansible-lint (production profile), and the
# tests/deploy suite, which renders the .env template and runs the whole role for real
# against this machine into a temp dir (the local PostgreSQL must be up).
#
#   bash deploy/check.sh [pytest args]
#
# Ansible gets a virtualenv of its own (deploy/.venv, from deploy/requirements.txt): it is a
# deployment tool, not a dependency of the service. The tests run with the project's .venv.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
PYTHON=${PYTHON:-python3}
DEPLOY_VENV=${DEPLOY_VENV:-$ROOT/deploy/.venv}
export DEPLOY_VENV

if [ ! -x "$DEPLOY_VENV/bin/python" ]; then
    "$PYTHON" -m venv "$DEPLOY_VENV"
fi
stamp=$DEPLOY_VENV/.installed
if [ ! -f "$stamp" ] || [ deploy/requirements.txt -nt "$stamp" ]; then
    echo "== installing deploy/requirements.txt into $DEPLOY_VENV"
    if ! "$DEPLOY_VENV/bin/python" -m pip install --upgrade pip -r deploy/requirements.txt \
        >"$DEPLOY_VENV/pip.log" 2>&1; then
        cat "$DEPLOY_VENV/pip.log"
        exit 1
    fi
    touch "$stamp"
fi
if [ ! -x .venv/bin/python ]; then
    make install
fi

echo "== ansible-playbook --syntax-check"
(
    cd deploy/ansible
    PATH=$DEPLOY_VENV/bin:$PATH ansible-playbook -i inventory.example site.yml --syntax-check
)

echo "== ansible-lint --profile production"
(
    cd deploy/ansible
    PATH=$DEPLOY_VENV/bin:$PATH ansible-lint --profile production --nocolor
)

echo "== pytest -m deploy tests/deploy"
# --confcutdir: the suite's own conftest (Redis cleanup, Django fixtures) is not needed here.
# DJANGO_DEBUG=True for the test process only (pytest-django loads the settings, which are
# production by default); the deployed app gets none of the caller's app variables.
DJANGO_DEBUG=True .venv/bin/python -m pytest -m deploy --confcutdir=tests/deploy tests/deploy "$@"
