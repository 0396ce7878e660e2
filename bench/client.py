"""Client benchmark: one command against the same local environment, four ways.

(a) the MWAA user guide's shell recipe per command: `aws mwaa create-cli-token` + curl + jq
    + base64 (a new token each time);
(b) `mwaa run` per command (a new process each time; the token comes from the disk cache);
(c) `mwaa batch` with 100 commands (one process, one token, one connection);
(d) the library in one process (`Client.run` in a loop).
Prints wall time per command and the ratios. Usage: python bench/client.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _local import local_environment, summary, timed

COMMAND = "dags list -o json"
GUIDE = r"""
CLI_JSON=$(aws mwaa --region us-east-1 create-cli-token --name local) \
  && CLI_TOKEN=$(echo $CLI_JSON | jq -r '.CliToken') \
  && WEB_SERVER_HOSTNAME=$(echo $CLI_JSON | jq -r '.WebServerHostname') \
  && CLI_RESULTS=$(curl -s --request POST "https://$WEB_SERVER_HOSTNAME/aws_mwaa/cli" \
     --header "Authorization: Bearer $CLI_TOKEN" --header "Content-Type: text/plain" \
     --data-raw "$COMMAND") \
  && echo $CLI_RESULTS | jq -r '.stdout' | base64 --decode
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    root = Path(__file__).resolve().parent.parent
    aws_dir = root / ".tools" / "awscli" / "bin"
    with local_environment("--no-scheduler") as (_endpoint, environ, _home):
        environ = dict(environ, COMMAND=COMMAND)
        environ["PATH"] = f"{aws_dir}{os.pathsep}{environ['PATH']}"
        if not shutil.which("aws", path=environ["PATH"]) or not shutil.which("jq"):
            raise SystemExit("needs the AWS CLI (.tools/awscli, scripts/bootstrap.sh) and jq")
        mwaa = str(Path(sys.executable).parent / "mwaa")
        subprocess.run(
            [mwaa, "run", "--", "dags", "reserialize"], env=environ, check=True, capture_output=True
        )

        def guide():
            subprocess.run(["bash", "-c", GUIDE], env=environ, check=True, capture_output=True)

        def mwaa_run():
            subprocess.run(
                [mwaa, "run", "--", *COMMAND.split()], env=environ, check=True, capture_output=True
            )

        batch_file = Path(tempfile.mkdtemp()) / "batch.txt"
        batch_file.write_text((COMMAND + "\n") * args.batch)

        def mwaa_batch():
            subprocess.run(
                [mwaa, "batch", "-q", str(batch_file)], env=environ, check=True, capture_output=True
            )

        os.environ.update(environ)
        from mwaa_cli import Client

        client = Client(env="local")
        client.run(["version"])

        def library():
            assert client.run(COMMAND.split()).ok

        # interleave (a) and (b) so that both see the same machine load
        a_times, b_times = [], []
        for _ in range(args.runs):
            a_times += timed(guide, 1)
            b_times += timed(mwaa_run, 1)
        c_total = timed(mwaa_batch, 1)[0]
        d_times = timed(library, args.runs)
    a50, _ = summary(a_times)
    b50, _ = summary(b_times)
    d50, _ = summary(d_times)
    c_per = c_total / args.batch * 1000
    print(f"command: {COMMAND!r}, {args.runs} runs each, batch of {args.batch}")
    print(f"(a) guide recipe (aws + curl + jq) per command  p50 {a50:7.0f} ms")
    print(
        f"(b) mwaa run per command                        p50 {b50:7.0f} ms  "
        f"= {b50 / a50:.2f} of (a) (target <= 0.33)"
    )
    print(
        f"(c) mwaa batch, {args.batch} commands               total {c_total * 1000:7.0f} ms  "
        f"({c_per:.0f} ms/command); {args.batch} x (a) / (c) = "
        f"{args.batch * a50 / (c_total * 1000):.1f}x (target >= 10x)"
    )
    print(
        f"(d) library in one process per command          p50 {d50:7.0f} ms  "
        f"= {a50 / d50:.1f}x faster than (a)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
