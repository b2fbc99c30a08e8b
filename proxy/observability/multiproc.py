"""Prometheus multiprocess mode for ``--workers N``: one shared directory of metric files.

The supervisor calls ``prepare()`` before forking, so every worker imports prometheus-client
with ``PROMETHEUS_MULTIPROC_DIR`` already set and writes its values there; a scrape on any
worker reads them all. A directory the operator set is used as is (and kept); one we made
is removed when the supervisor exits.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare() -> str:
    path = os.environ.get(ENV)
    if path:
        os.makedirs(path, exist_ok=True)
        for name in os.listdir(path):  # values of a previous run would be summed in
            if name.endswith(".db"):
                os.remove(os.path.join(path, name))
        return path
    path = tempfile.mkdtemp(prefix="llm-gateway-metrics-")
    os.environ[ENV] = path
    atexit.register(_remove, path, os.getpid())
    return path


def _remove(path: str, owner: int) -> None:
    if os.getpid() == owner:  # forked workers inherit atexit hooks: only the supervisor
        shutil.rmtree(path, ignore_errors=True)


def worker_exited(pid: int | None) -> None:
    """Drops a dead worker's live gauges (in-flight counts) from the totals."""
    if pid is None or not os.environ.get(ENV):
        return
    try:
        from prometheus_client import multiprocess
    except ImportError:
        return
    multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
