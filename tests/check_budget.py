"""Fail when a module grows past the line budget in setup.cfg ([budget] max_lines)."""

from __future__ import annotations

import configparser
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def main() -> int:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    limit = cfg.getint("budget", "max_lines")
    over = []
    for folder in ("proxy", "middleware", "tests", "bench"):
        for path in (ROOT / folder).rglob("*.py"):
            n = sum(1 for _ in path.open(encoding="utf-8"))
            if n > limit:
                over.append(f"{path.relative_to(ROOT)}: {n} lines (budget {limit})")
    for line in over:
        print(line, file=sys.stderr)
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
