"""The gateway lifts its soft open-files limit to the hard one: every stream holds two."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_soft_limit_is_raised_to_the_hard_one() -> None:
    code = (
        "import resource; from proxy.__main__ import raise_open_files; "
        "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE); "
        "resource.setrlimit(resource.RLIMIT_NOFILE, (min(256, hard), hard)); "
        "got = raise_open_files(); "
        "now = resource.getrlimit(resource.RLIMIT_NOFILE); "
        "assert got == now, (got, now); "
        "assert now[0] == hard or hard == resource.RLIM_INFINITY, now; "
        "print(now[0])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 256
