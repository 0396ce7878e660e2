#!/usr/bin/env bash
# Regenerate constraints/local.txt: resolve mwaa-cli[local,dev] in a throwaway venv, keeping
# the versions pinned today (constraints/local.txt), and freeze the result. Airflow is not in
# it: each Airflow version runs from its own runtime, pinned by
# src/mwaa_cli/local/airflow/pins/ (scripts/pin_runtime.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install --quiet uv
grep -v '^#' constraints/local.txt > "$tmp/previous.txt" || true
# today's pins as constraints: unchanged where they still apply (pins of packages no longer
# needed constrain nothing); LOCK_FRESH=1 resolves from scratch instead
previous=(-c "$tmp/previous.txt")
[ -n "${LOCK_FRESH:-}" ] && previous=()
"$tmp/venv/bin/uv" pip install --quiet --python "$tmp/venv/bin/python" -e '.[local,dev]' \
  "${previous[@]}"
{
  echo "# Exact pins for mwaa-cli[local,dev] (scripts/lock.sh)."
  echo "# Install with: uv pip install -e '.[local,dev]' -c constraints/local.txt"
  "$tmp/venv/bin/uv" pip freeze --python "$tmp/venv/bin/python" --exclude-editable
} > constraints/local.txt
rm -rf "$tmp"
