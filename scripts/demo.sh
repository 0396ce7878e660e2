#!/usr/bin/env bash
# The main job on the embedded default: start a local MWAA-compatible environment on real
# Apache Airflow with the sample DAGs, drive it through the `mwaa` client exactly as you
# would drive Amazon MWAA, then stop it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"
# Airflow runtimes: the one store every home shares (~/.local/share/mwaa-cli/runtimes, or
# $MWAA_CLI_RUNTIMES); the first start of a version makes its runtime
export MWAA_CLI_HOME=${MWAA_CLI_HOME:-$PWD/.state}
# the environment's AWS profile goes to files of the demo's own, not your ~/.aws
export AWS_CONFIG_FILE=$MWAA_CLI_HOME/aws/config AWS_SHARED_CREDENTIALS_FILE=$MWAA_CLI_HOME/aws/credentials
PORT=${PORT:-$(python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
log=$(mktemp)

step() { printf '\n\033[1m$ %s\033[0m\n' "$(printf '%q ' "$@")"; "$@"; }

echo "Starting: mwaa local serve --port $PORT   (log: $log)"
mwaa local serve --port "$PORT" >"$log" 2>&1 &
server=$!
trap 'kill -INT $server 2>/dev/null || true; wait $server 2>/dev/null || true' EXIT

# the banner comes once every component answers (API server and execution API, scheduler
# and DAG processor heartbeats, the sample DAGs parsed): from then on everything works
for _ in $(seq 2400); do  # 20 minutes: the very first start makes the Airflow runtime
  grep -q "Press Ctrl-C" "$log" && break
  kill -0 $server 2>/dev/null || { cat "$log"; exit 1; }
  sleep 0.5
done
grep -q "Press Ctrl-C" "$log" || { cat "$log"; echo "demo: the environment did not come up"; exit 1; }
cat "$log"
# What the server printed: endpoint, region and its own SigV4 key pair, so that boto3,
# the AWS CLI and mwaa all find it.
echo; echo '$ source "$MWAA_CLI_HOME/local/local/env.sh"'
source "$MWAA_CLI_HOME/local/local/env.sh"

step mwaa envs
step mwaa run -- dags list
step mwaa run -- dags unpause hello_mwaa
step mwaa run -- dags trigger hello_mwaa
state=""
for _ in $(seq 150); do
  state=$(mwaa run -- dags list-runs hello_mwaa -o json | python -c 'import json,sys; print(json.load(sys.stdin)[0]["state"])')
  echo "run state: $state"
  case $state in success|failed) break ;; esac
  sleep 2
done
step mwaa run -- dags list-runs hello_mwaa
step mwaa run -- variables set report_recipient "data team <data@example.com>"
step mwaa run -- variables get report_recipient
echo; echo '$ mwaa run -- variables get no_such_key   (fails remotely: exit code passes through)'
mwaa run -- variables get no_such_key && rc=0 || rc=$?
echo "exit code: $rc"
echo; echo '$ mwaa run -- users list   (not on MWAA'"'"'s allowlist: refused, never run)'
mwaa run -- users list && rc=0 || rc=$?
echo "exit code: $rc"
echo; echo '$ mwaa run -- list_dag_runs hello_mwaa   (Airflow 1.10 syntax: translated for 3.x)'
mwaa run -- list_dag_runs hello_mwaa -o plain
step mwaa run --json -- variables get report_recipient
echo; echo '$ printf "version\ndags list -o plain\n" | mwaa shell   (the shell, scripted)'
printf 'version\ndags list -o plain\n' | mwaa shell
step mwaa doctor

echo; echo "Stopping the local environment (Ctrl-C) ..."
kill -INT $server; wait $server || true
trap - EXIT
tail -2 "$log"
[ "$state" = success ] || { echo "demo: the triggered run did not succeed ($state)"; exit 1; }
echo "demo: done - the triggered run reached 'success'."
