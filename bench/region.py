"""The local region beside `mwaa local serve`, in one run on the same machine:

- control-plane latency (boto3 in process, p50/p90 of N calls): GetEnvironment answered by
  the region's registry vs by a serve; CreateCliToken forwarded by the region to the
  environment's server vs asked of a serve directly;
- lifecycle: CreateEnvironment -> AVAILABLE vs `mwaa local serve` start -> banner (same
  version, sample DAGs), UpdateEnvironment (a configuration option) -> AVAILABLE,
  `mwaa local down` and `mwaa local up` (one environment brought back).

Usage: python bench/region.py [--runs N] [--airflow-version X.Y.Z]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).parent))

from _local import BIN, free_port, local_environment, summary, timed

SAMPLE_DAGS = Path(__file__).parents[1] / "src" / "mwaa_cli" / "local" / "sample_dags"


def client(environ: dict[str, str], endpoint: str | None = None):
    if environ.get("AWS_PROFILE"):
        session = boto3.session.Session(profile_name=environ["AWS_PROFILE"])
        return session.client(
            "mwaa", verify=environ["AWS_CA_BUNDLE"], config=Config(inject_host_prefix=False)
        )
    return boto3.session.Session().client(
        "mwaa",
        endpoint_url=endpoint or environ["AWS_ENDPOINT_URL_MWAA"],
        region_name="us-east-1",
        aws_access_key_id=environ["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=environ["AWS_SECRET_ACCESS_KEY"],
        verify=environ["AWS_CA_BUNDLE"],
        config=Config(inject_host_prefix=False),
    )


def wait_status(mwaa, name: str, timeout: float = 900) -> tuple[str, float]:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        status = mwaa.get_environment(Name=name)["Environment"]["Status"]
        if status not in ("CREATING", "UPDATING"):
            return status, time.monotonic() - start
        time.sleep(0.25)
    raise SystemExit(f"{name} stayed in {status}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--airflow-version", default="3.3.1")
    args = parser.parse_args()
    version = args.airflow_version

    # -- a serve, for comparison ----------------------------------------------------------------
    started = time.monotonic()
    with local_environment("--airflow-version", version, "--no-profile") as (endpoint, env, _):
        serve_start = time.monotonic() - started
        serve = client(env, endpoint)
        serve_get = timed(lambda: serve.get_environment(Name="local"), args.runs, warm=True)
        serve_token = timed(lambda: serve.create_cli_token(Name="local"), args.runs, warm=True)

    # -- a region --------------------------------------------------------------------------------
    state = Path(tempfile.mkdtemp(prefix="mwaa-bench-region-"))
    bucket = state / "bucket"
    shutil.copytree(SAMPLE_DAGS, bucket / "dags")
    environ = dict(
        os.environ,
        MWAA_CLI_HOME=str(state / "home"),
        AWS_CONFIG_FILE=str(state / "aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(state / "aws-credentials"),
    )
    port = free_port()
    up_argv = [
        str(BIN / "mwaa"), "local", "up", "--port", str(port), "--no-profile",
        "--bucket", f"bench={bucket}",
    ]  # fmt: skip
    subprocess.run(up_argv, env=environ, check=True, capture_output=True)
    exports = dict(
        shlex.split(line.removeprefix("export "))[0].split("=", 1)
        for line in (state / "home" / "region" / "env.sh").read_text().splitlines()
        if line.startswith("export ")
    )
    mwaa = client(exports)
    try:
        mwaa.create_environment(
            Name="bench",
            AirflowVersion=version,
            ExecutionRoleArn="arn:aws:iam::123456789012:role/bench",
            SourceBucketArn="arn:aws:s3:::bench",
            DagS3Path="dags",
            NetworkConfiguration={"SubnetIds": ["subnet-1", "subnet-2"]},
        )
        status, create = wait_status(mwaa, "bench")
        assert status == "AVAILABLE", mwaa.get_environment(Name="bench")["Environment"]
        region_get = timed(lambda: mwaa.get_environment(Name="bench"), args.runs, warm=True)
        region_token = timed(lambda: mwaa.create_cli_token(Name="bench"), args.runs, warm=True)
        mwaa.update_environment(
            Name="bench", AirflowConfigurationOptions={"core.default_timezone": "utc"}
        )
        status, update = wait_status(mwaa, "bench")
        assert status == "AVAILABLE", status
        t0 = time.monotonic()
        subprocess.run([str(BIN / "mwaa"), "local", "down"], env=environ, check=True)
        down = time.monotonic() - t0
        t0 = time.monotonic()
        subprocess.run(up_argv, env=environ, check=True, capture_output=True)
        up = time.monotonic() - t0
        listed = json.loads(
            subprocess.run(
                [str(BIN / "mwaa"), "local", "status", "--json"],
                env=environ,
                check=True,
                capture_output=True,
            ).stdout
        )
        assert listed["environments"][0]["ready"], listed
    finally:
        subprocess.run([str(BIN / "mwaa"), "local", "down"], env=environ, capture_output=True)
        shutil.rmtree(state, ignore_errors=True)

    print(f"Local region vs mwaa local serve, Apache Airflow {version}, {args.runs} calls each")
    print(f"  {'':44} {'region':>16} {'serve':>16} {'ratio':>7}")
    for label, region_times, serve_times in (
        ("GetEnvironment p50/p90 ms", region_get, serve_get),
        ("CreateCliToken p50/p90 ms (region forwards)", region_token, serve_token),
    ):
        r50, r90 = summary(region_times)
        s50, s90 = summary(serve_times)
        print(f"  {label:44} {r50:7.1f}/{r90:7.1f} {s50:7.1f}/{s90:7.1f} {r50 / s50:6.2f}x")
    print(
        f"  {'create -> AVAILABLE vs serve start -> banner':44} {create:15.1f}s "
        f"{serve_start:15.1f}s {create / serve_start:6.2f}x"
    )
    print(f"  {'UpdateEnvironment -> AVAILABLE':44} {update:15.1f}s")
    print(f"  {'mwaa local down (1 environment)':44} {down:15.1f}s")
    print(f"  {'mwaa local up (1 environment back)':44} {up:15.1f}s")


if __name__ == "__main__":
    main()
