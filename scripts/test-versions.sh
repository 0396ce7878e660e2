#!/usr/bin/env bash
# `make test-versions`: the end-to-end flow and the user's-environment tests on every Airflow
# version MWAA offers (or MWAA_TEST_VERSIONS="3.2.1 2.11.2"), then a table of results per
# version. Slow: it makes each version's runtime first (about a minute each on an empty uv
# cache) and starts two environments per version.
set -euo pipefail
cd "$(dirname "$0")/.."
export MWAA_TEST_VERSIONS=${MWAA_TEST_VERSIONS:-all}
# shellcheck disable=SC2086
scripts/bootstrap.sh 3.3.1 2.10.3 $MWAA_TEST_VERSIONS
export PATH="$PWD/.venv/bin:$PWD/.tools/awscli/bin:$PATH"
report=$(mktemp --suffix .xml)
status=0
pytest -q tests/e2e/test_flow.py tests/e2e/test_your_environment.py --junitxml="$report" "$@" || status=$?
python scripts/versions_table.py "$report"
exit $status
