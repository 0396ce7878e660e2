#!/usr/bin/env bash
# The test command: lint, then unit, in-process, integration and end-to-end tests
# (a real `mwaa local serve` with real Airflow, boto3, the AWS CLI and curl).
set -euo pipefail
cd "$(dirname "$0")/.."
# the runtimes the tests run (the newest Airflow and the 2.x most MWAA users run), in the
# store a user's `mwaa local serve` uses too
scripts/bootstrap.sh 3.3.1 2.10.3
export PATH="$PWD/.venv/bin:$PWD/.tools/awscli/bin:$PATH"
ruff check src tests bench
ruff format --check src tests bench
exec pytest "$@"
