"""The documentation site builds strictly (broken links, missing anchors, pages left out of
the nav all fail), as `make docs` and CI build it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_mkdocs_builds_strictly(tmp_path):
    mkdocs = Path(sys.executable).with_name("mkdocs")
    assert mkdocs.exists(), "mkdocs-material is in the dev extra (scripts/bootstrap.sh)"
    done = subprocess.run(
        [str(mkdocs), "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    built = tmp_path / "site"
    for page in ("index.html", "client/index.html", "reference/security/index.html"):
        assert (built / page).is_file(), page
    assert "Keep a Changelog" in (built / "changelog" / "index.html").read_text()
    shutil.rmtree(built)
