"""``python -m proxy.probe ready|health [--port P]``: a probe for a pod-local gateway.

A sidecar that binds 127.0.0.1 cannot be probed by the kubelet over the pod IP; an exec
probe runs this inside the container instead. Exit 0 when the endpoint answers 200.
"""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m proxy.probe")
    ap.add_argument("what", choices=["ready", "health"])
    ap.add_argument("--port", type=int, default=8787)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--timeout", type=float, default=2.0)
    args = ap.parse_args(argv)
    url = f"http://{args.host}:{args.port}/{args.what}"
    try:
        with urllib.request.urlopen(url, timeout=args.timeout) as resp:
            return 0 if resp.status == 200 else 1
    except (urllib.error.URLError, OSError):
        return 1


if __name__ == "__main__":
    sys.exit(main())
