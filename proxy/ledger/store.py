"""The ledger's table and the two databases that hold it (SQLite, PostgreSQL).

One row per request; ``ts`` is epoch seconds (UTC) in both databases so the same queries
run on both (PostgreSQL: ``to_timestamp(ts)`` to read it as a time). The table name comes
from settings and is checked to be a plain SQL identifier; every value is a bound
parameter, never text pasted into SQL.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Protocol

COLUMNS: tuple[tuple[str, str, str], ...] = (
    # name, SQLite type, PostgreSQL type
    ("ts", "REAL NOT NULL", "DOUBLE PRECISION NOT NULL"),
    ("request_id", "TEXT", "TEXT"),
    ("trace_id", "TEXT", "TEXT"),
    ("key_id", "TEXT", "TEXT"),
    ("key_name", "TEXT", "TEXT"),
    ("team", "TEXT", "TEXT"),
    ("provider", "TEXT", "TEXT"),
    ("model", "TEXT", "TEXT"),
    ("endpoint", "TEXT", "TEXT"),
    ("stream", "INTEGER", "BOOLEAN"),
    ("status", "INTEGER", "INTEGER"),
    ("error_type", "TEXT", "TEXT"),
    ("prompt_tokens", "INTEGER", "BIGINT"),
    ("completion_tokens", "INTEGER", "BIGINT"),
    ("cached_tokens", "INTEGER", "BIGINT"),
    ("cost_usd", "REAL", "DOUBLE PRECISION"),
    ("latency_ms", "REAL", "DOUBLE PRECISION"),
    ("usage_estimated", "INTEGER", "BOOLEAN"),
)
NAMES = tuple(c[0] for c in COLUMNS)
Row = tuple[Any, ...]  # values in NAMES order


class Store(Protocol):
    placeholder: str  # "?" (SQLite) or "$" (PostgreSQL: $1, $2, ...)
    table: str  # checked to be a plain identifier (ledger.settings)
    where: str  # for logs: never a password

    async def open(self) -> None: ...

    async def insert(self, rows: Sequence[Row]) -> None: ...

    async def query(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]: ...

    async def close(self) -> None: ...


def params(store: Store, n: int, start: int = 1) -> list[str]:
    if store.placeholder == "?":
        return ["?"] * n
    return [f"${i}" for i in range(start, start + n)]


class SqliteStore:
    placeholder = "?"

    def __init__(self, path: str, table: str) -> None:
        self.path = path
        self.table = table
        self.where = f"sqlite:{path}"
        self.db: Any = None

    async def open(self) -> None:
        import aiosqlite

        folder = os.path.dirname(self.path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        db = await aiosqlite.connect(self.path, timeout=5.0)
        try:
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute("PRAGMA synchronous=NORMAL")
            cols = ", ".join(f"{n} {t}" for n, t, _ in COLUMNS)
            await db.execute(f"CREATE TABLE IF NOT EXISTS {self.table} ({cols})")
            await db.execute(f"CREATE INDEX IF NOT EXISTS {self.table}_ts ON {self.table} (ts)")
            await db.execute(
                f"CREATE INDEX IF NOT EXISTS {self.table}_key ON {self.table} (key_id, ts)"
            )
            await db.commit()
        except BaseException:
            await db.close()
            raise
        self.db = db

    async def insert(self, rows: Sequence[Row]) -> None:
        marks = ", ".join("?" * len(NAMES))
        sql = f"INSERT INTO {self.table} ({', '.join(NAMES)}) VALUES ({marks})"  # noqa: S608 - identifiers checked, values bound
        await self.db.executemany(sql, rows)
        await self.db.commit()

    async def query(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        async with self.db.execute(sql, params) as cur:
            return [tuple(r) for r in await cur.fetchall()]

    async def close(self) -> None:
        if self.db is not None:
            await self.db.close()
            self.db = None


class PostgresStore:
    placeholder = "$"

    def __init__(self, url: str, table: str) -> None:
        from urllib.parse import urlsplit

        self.url = url
        self.table = table
        parts = urlsplit(url)
        self.where = f"postgresql://{parts.hostname}:{parts.port or 5432}{parts.path}"
        self.pool: Any = None

    async def open(self) -> None:
        import asyncpg

        pool = await asyncpg.create_pool(self.url, min_size=1, max_size=2, timeout=5.0)
        try:
            cols = ", ".join(f"{n} {t}" for n, _, t in COLUMNS)
            async with pool.acquire() as conn, conn.transaction():
                # replicas start together: one creates the table, the others wait
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", self.table)
                await conn.execute(f"CREATE TABLE IF NOT EXISTS {self.table} ({cols})")
                await conn.execute(
                    f"CREATE INDEX IF NOT EXISTS {self.table}_ts ON {self.table} (ts)"
                )
                await conn.execute(
                    f"CREATE INDEX IF NOT EXISTS {self.table}_key ON {self.table} (key_id, ts)"
                )
        except BaseException:
            await pool.close()
            raise
        self.pool = pool

    async def insert(self, rows: Sequence[Row]) -> None:
        records = [_pg(r) for r in rows]
        async with self.pool.acquire() as conn:
            await conn.copy_records_to_table(self.table, records=records, columns=list(NAMES))

    async def query(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        async with self.pool.acquire() as conn:
            return [tuple(r) for r in await conn.fetch(sql, *params)]

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()
            self.pool = None


_BOOLS = (NAMES.index("stream"), NAMES.index("usage_estimated"))


def _pg(row: Row) -> Row:
    out = list(row)
    for i in _BOOLS:
        out[i] = bool(out[i])
    return tuple(out)


def open_store(url: str, table: str) -> Store:
    if url.startswith("sqlite:"):
        # sqlite:///relative.db, sqlite:////absolute/path.db (SQLAlchemy's spelling)
        path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url[7:]
        return SqliteStore(path, table)
    return PostgresStore(url, table)
