#!/usr/bin/env bash
# Set up everything mwaa-cli's demo and tests need, on a fresh machine, idempotently:
#   .venv         mwaa-cli[local,dev] with the exact pins of constraints/local.txt
#   .tools/awscli the unmodified AWS CLI (its own venv, as users install it)
#   runtimes      the Airflow runtimes named as arguments (e.g. 3.3.1 2.10.3), in the one store
#                 the demo, the tests and `mwaa local serve` share (~/.local/share/mwaa-cli/runtimes)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
stamp=.venv/.mwaa-cli-installed
want=$(cat pyproject.toml constraints/local.txt | sha256sum | cut -d' ' -f1)

if [ -x .venv/bin/python ] && [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  rm -rf .venv  # exactly the pins: nothing left from an older set (Airflow lived here once)
fi
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "bootstrap: installing mwaa-cli[local,dev] into .venv (pinned by constraints/local.txt)" >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check "uv>=0.4" 2>&1 | grep -v '^WARNING: Location' >&2 || true
  .venv/bin/uv pip install --quiet --python .venv/bin/python --compile-bytecode \
    -e '.[local,dev]' -c constraints/local.txt
  echo "$want" > "$stamp"
fi
if [ ! -x .tools/awscli/bin/aws ]; then
  echo "bootstrap: installing the AWS CLI into .tools/awscli" >&2
  "$PYTHON" -m venv .tools/awscli
  .tools/awscli/bin/python -m pip install --quiet --disable-pip-version-check "awscli>=1.37" 2>&1 | grep -v '^WARNING: Location' >&2 || true
fi
# Airflow runtimes (one venv per version, made by mwaa-cli's own code with uv from the pins
# in src/mwaa_cli/local/airflow/pins/) live in the user's store, shared by the demo, the tests
# and `mwaa local serve`; `scripts/bootstrap.sh 3.3.1 2.10.3` makes those versions' runtimes now.
if [ "$#" -gt 0 ]; then
  .venv/bin/mwaa local runtimes install "$@" >/dev/null
fi
