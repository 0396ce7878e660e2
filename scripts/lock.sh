#!/usr/bin/env bash
# Regenerate constraints/local.txt: resolve mwaa-cli[local,dev] against Apache Airflow's own
# constraints for the pinned version, in a throwaway venv, and freeze the result.
set -euo pipefail
cd "$(dirname "$0")/.."
AIRFLOW_CONSTRAINTS=${AIRFLOW_CONSTRAINTS:?path or URL of Airflow's constraints file for 3.3.1}
tmp=$(mktemp -d)
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install --quiet uv
"$tmp/venv/bin/uv" pip install --quiet --python "$tmp/venv/bin/python" -e '.[local,dev]' -c "$AIRFLOW_CONSTRAINTS"
{
  echo "# Exact pins for mwaa-cli[local,dev]: generated against Apache Airflow 3.3.1's constraints"
  echo "# (scripts/lock.sh). Install with: uv pip install -e '.[local,dev]' -c constraints/local.txt"
  "$tmp/venv/bin/uv" pip freeze --python "$tmp/venv/bin/python" --exclude-editable
} > constraints/local.txt
rm -rf "$tmp"
