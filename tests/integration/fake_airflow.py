"""A stand-in for the ``airflow`` executable in transport tests (real Airflow runs in e2e/).

stdout: the argv as JSON; stderr: a line naming it; exit code / sleep / output size taken
from the last argument when it looks like ``exit=N``, ``sleep=S``, ``bytes=N``
or ``flood`` (write until stopped).
"""

import json
import sys
import time

args = sys.argv[1:]
last = args[-1] if args else ""
if last.startswith("sleep="):
    time.sleep(float(last[6:]))
if last == "flood":  # writes until stopped
    while True:
        sys.stdout.buffer.write(b"y" * 65536)
if last.startswith("bytes="):
    sys.stdout.buffer.write(bytes(range(256)) * (int(last[6:]) // 256))
else:
    print(json.dumps(args))
print(f"fake-airflow stderr for {args[0] if args else ''}", file=sys.stderr)
sys.exit(int(last[5:]) if last.startswith("exit=") else 0)
