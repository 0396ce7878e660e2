#!/usr/bin/env bash
# Set up everything mwaa-cli's demo and tests need, on a fresh machine, idempotently:
#   .venv         mwaa-cli[local,dev] with the exact pins of constraints/local.txt
#   .tools/awscli the unmodified AWS CLI (its pins clash with Airflow's, so it lives apart)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
stamp=.venv/.mwaa-cli-installed
want=$(cat pyproject.toml constraints/local.txt | sha256sum | cut -d' ' -f1)

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "bootstrap: installing mwaa-cli[local,dev] into .venv (pinned by constraints/local.txt)" >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check "uv>=0.4" 2>&1 | grep -v '^WARNING: Location' >&2 || true
  # Compiled bytecode halves Airflow's start-up time (PYTHONDONTWRITEBYTECODE may be set).
  .venv/bin/uv pip install --quiet --python .venv/bin/python --compile-bytecode \
    -e '.[local,dev]' -c constraints/local.txt
  echo "$want" > "$stamp"
fi
if [ ! -x .tools/awscli/bin/aws ]; then
  echo "bootstrap: installing the AWS CLI into .tools/awscli" >&2
  "$PYTHON" -m venv .tools/awscli
  .tools/awscli/bin/python -m pip install --quiet --disable-pip-version-check "awscli>=1.37" 2>&1 | grep -v '^WARNING: Location' >&2 || true
fi
# Apache Airflow 2.10.3 (the 2.x line MWAA offers), used by the tests to run the 2.x
# translation rules on a real Airflow 2 CLI. Pinned by Airflow's own constraints for it.
if [ ! -x .tools/airflow2/bin/airflow ] || [ ! -d .tools/airflow2/lib/python3*/site-packages/graphviz ]; then
  echo "bootstrap: installing Apache Airflow 2.10.3 into .tools/airflow2 (for the tests)" >&2
  "$PYTHON" -m venv .tools/airflow2
  .venv/bin/uv pip install --quiet --python .tools/airflow2/bin/python --compile-bytecode \
    "apache-airflow==2.10.3" graphviz -c constraints/airflow-2.10.3.txt
fi
