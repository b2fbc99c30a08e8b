"""``ledger:`` in settings: where the spend ledger is written (off without a url)."""

from __future__ import annotations

import re

import msgspec

_TABLE = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class LedgerSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    # sqlite:///relative.db, sqlite:////absolute/path.db or postgresql://user@host/db;
    # None: no ledger (env GATEWAY_LEDGER_URL)
    url: str | None = None
    table: str = "llm_gateway_ledger"  # an SQL identifier: lower case, digits, _
    batch_size: int = 500  # rows per insert
    flush_interval: float = 1.0  # seconds between writes when batches are not full
    queue_size: int = 200_000  # rows held while the database is unreachable
    # on SIGTERM (after the drain): how long to keep retrying a database that fails
    shutdown_timeout: float = 10.0


def check(s: LedgerSettings) -> None:
    if not _TABLE.fullmatch(s.table):
        raise ValueError("ledger.table: lower-case letters, digits and _ (an SQL identifier)")
    if s.url is not None and not s.url.startswith(("sqlite:", "postgres://", "postgresql://")):
        raise ValueError("ledger.url: sqlite:///<path> or postgresql://...")
    if not 1 <= s.batch_size <= 100_000 or s.queue_size < s.batch_size:
        raise ValueError("ledger.batch_size: 1 to 100000, and queue_size at least as large")
    if not 0.01 <= s.flush_interval <= 60:
        raise ValueError("ledger.flush_interval: between 0.01 and 60 seconds")
