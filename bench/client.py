"""Client benchmark: the MWAA user guide's shell recipe against `mwaa`, side by side, on a
full local environment (scheduler, DAG processor, triggerer and API server running).

(a) the recipe per command: `aws mwaa create-cli-token` + curl + jq + base64 (a new token
    each time), for `version` and `dags list -o json`;
(b) `mwaa run` per command (a new process each time; the token comes from the disk cache);
(c) `mwaa batch` of 100 `dags list -o json` (one process, one token, one connection);
(d) the library in one process (`Client.run` in a loop);
(e) `mwaa api GET /dags` per call (a new process: InvokeRestApi signed without boto3);
(f) `aws mwaa invoke-rest-api --path /dags` per call (the AWS CLI, for scale).

`--before REV` also times (b) and (e) with the client of git revision REV (its source on
PYTHONPATH, the same interpreter and server), interleaved with today's: before/after in one
run. Targets (issue 21): (b)/(a) <= 0.20 for both commands; 100 x (a) / (c) >= 15;
(e) p50 <= 200 ms. Usage: python bench/client.py [--runs N] [--batch N] [--before REV]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _local import local_environment, summary, timed

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = ("version", "dags list -o json")
GUIDE = r"""
CLI_JSON=$(aws mwaa --region us-east-1 create-cli-token --name local) \
  && CLI_TOKEN=$(echo $CLI_JSON | jq -r '.CliToken') \
  && WEB_SERVER_HOSTNAME=$(echo $CLI_JSON | jq -r '.WebServerHostname') \
  && CLI_RESULTS=$(curl -s --request POST "https://$WEB_SERVER_HOSTNAME/aws_mwaa/cli" \
     --header "Authorization: Bearer $CLI_TOKEN" --header "Content-Type: text/plain" \
     --data-raw "$COMMAND") \
  && echo $CLI_RESULTS | jq -r '.stdout' | base64 --decode
"""


def source_of(rev: str) -> Path:
    """The ``src`` folder of git revision ``rev``, unpacked into a temporary folder."""
    folder = Path(tempfile.mkdtemp(prefix="mwaa-before-"))
    archive = folder / "src.tar"
    subprocess.run(["git", "-C", str(ROOT), "archive", "-o", str(archive), rev, "src"], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
    return folder / "src"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--before", metavar="REV", help="also time this git revision's client")
    args = parser.parse_args()
    aws_dir = ROOT / ".tools" / "awscli" / "bin"
    before_src = source_of(args.before) if args.before else None
    with local_environment() as (_endpoint, environ, _home):
        environ = dict(environ, PATH=f"{aws_dir}{os.pathsep}{environ['PATH']}")
        if not shutil.which("aws", path=environ["PATH"]) or not shutil.which("jq"):
            raise SystemExit("needs the AWS CLI (.tools/awscli, scripts/bootstrap.sh) and jq")
        mwaa = [sys.executable, "-m", "mwaa_cli"]
        old_env = dict(environ, PYTHONPATH=str(before_src)) if before_src else None

        def proc(argv: list[str], env: dict | None = None):
            def run() -> None:
                subprocess.run(argv, env=env or environ, check=True, capture_output=True)

            return run

        proc([*mwaa, "run", "--", "dags", "reserialize"])()
        guide = {c: proc(["bash", "-c", GUIDE], dict(environ, COMMAND=c)) for c in COMMANDS}
        run = {c: proc([*mwaa, "run", "--", *c.split()]) for c in COMMANDS}
        run_old = {c: proc([*mwaa, "run", "--", *c.split()], old_env) for c in COMMANDS}
        api = proc([*mwaa, "api", "GET", "/dags"])
        api_old = proc([*mwaa, "api", "GET", "/dags"], old_env)
        aws_rest = proc(
            ["aws", "mwaa", "invoke-rest-api", "--name", "local", "--path", "/dags", "--method",
             "GET"]
        )  # fmt: skip
        batch_file = Path(tempfile.mkdtemp()) / "batch.txt"
        batch_file.write_text("dags list -o json\n" * args.batch)
        batch = proc([*mwaa, "batch", "-q", str(batch_file)])

        os.environ.update(environ)
        from mwaa_cli import Client

        client = Client(env="local")
        client.run(["version"])

        def library() -> None:
            assert client.run(["dags", "list", "-o", "json"]).ok

        # interleaved, so that every column sees the same machine; one untimed call of each
        # first (token, route, page cache)
        rows: dict[str, list[float]] = {}
        timers = {
            **{f"(a) recipe: {c}": guide[c] for c in COMMANDS},
            **{f"(b) mwaa run: {c}": run[c] for c in COMMANDS},
            "(e) mwaa api GET /dags": api,
            "(f) aws mwaa invoke-rest-api": aws_rest,
        }
        if before_src:
            timers |= {f"(b) mwaa run: {c} [before]": run_old[c] for c in COMMANDS}
            timers["(e) mwaa api GET /dags [before]"] = api_old
        for fn in timers.values():
            fn()
        for _ in range(args.runs):
            for name, fn in timers.items():
                rows.setdefault(name, []).extend(timed(fn, 1))
        batch()
        batch_total = timed(batch, 1)[0]
        rows["(d) library, in one process: dags list -o json"] = timed(library, args.runs)

    p50 = {name: summary(times)[0] for name, times in rows.items()}
    print(f"full local environment, {args.runs} runs each (interleaved), p50 / p90 in ms")
    for name, times in rows.items():
        print(f"  {name:52} {summary(times)[0]:7.0f} {summary(times)[1]:7.0f}")
    print("targets:")
    for c in COMMANDS:
        ratio = p50[f"(b) mwaa run: {c}"] / p50[f"(a) recipe: {c}"]
        old = ""
        if before_src:
            old = f" (before: {p50[f'(b) mwaa run: {c} [before]'] / p50[f'(a) recipe: {c}']:.2f})"
        print(f"  mwaa run / recipe, {c!r}: {ratio:.2f}{old}  target <= 0.20")
    per = batch_total / args.batch * 1000
    speedup = args.batch * p50["(a) recipe: dags list -o json"] / (batch_total * 1000)
    print(
        f"  mwaa batch of {args.batch}: {batch_total * 1000:.0f} ms ({per:.0f} ms/command) = "
        f"{speedup:.1f}x the recipe  target >= 15x"
    )
    old = f" (before: {p50['(e) mwaa api GET /dags [before]']:.0f} ms)" if before_src else ""
    print(
        f"  mwaa api GET /dags p50: {p50['(e) mwaa api GET /dags']:.0f} ms{old}  target <= 200 ms"
        f"; the AWS CLI's invoke-rest-api: {p50['(f) aws mwaa invoke-rest-api']:.0f} ms"
    )
    library_ratio = (
        p50["(a) recipe: dags list -o json"] / p50["(d) library, in one process: dags list -o json"]
    )
    print(f"  library in one process: {library_ratio:.1f}x faster than the recipe")
    return 0


if __name__ == "__main__":
    sys.exit(main())
