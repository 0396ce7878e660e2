#!/usr/bin/env bash
# Pins for an Airflow version without an upstream constraints file at hand: resolve Airflow
# and the providers MWAA preinstalls against PyPI as it was a few days after the release.
#   scripts/pin_runtime.sh VERSION PYTHON CUTOFF     e.g. 2.9.2 3.11 2024-06-13T00:00:00Z
# Where Airflow publishes constraints (https://raw.githubusercontent.com/apache/airflow/
# constraints-VERSION/constraints-PYTHON.txt), copy that file to the pins folder instead.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$1 python=$2 cutoff=$3
out=src/mwaa_cli/local/airflow/pins/airflow-$version.txt
in=$(mktemp)
printf 'apache-airflow==%s\napache-airflow-providers-amazon[aiobotocore]\napache-airflow-providers-http\napache-airflow-providers-postgres\ngraphviz\n' "$version" > "$in"
{
  echo "# Apache Airflow $version and the providers MWAA preinstalls, resolved against PyPI as it was"
  echo "# three days after the release (no upstream constraints file was at hand; scripts/pin_runtime.sh)."
  .venv/bin/uv pip compile "$in" --python-version "$python" --exclude-newer "$cutoff" --no-header --no-annotate -q
} > "$out"
rm -f "$in"
echo "wrote $out"
