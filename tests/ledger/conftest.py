"""Fixtures for the ledger tests: a PostgreSQL table of their own, dropped afterwards."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest


def pg_query(url: str, sql: str, *args: object) -> list[tuple]:
    """Run one query on PostgreSQL from a sync test."""
    import asyncpg

    async def run() -> list[tuple]:
        conn = await asyncpg.connect(url)
        try:
            return [tuple(r) for r in await conn.fetch(sql, *args)]
        finally:
            await conn.close()

    return asyncio.run(run())


@pytest.fixture
def pg_table(postgres_url: str) -> Iterator[tuple[str, str]]:
    """(url, table name) of a ledger table of its own."""
    table = f"ledger_test_{uuid.uuid4().hex[:10]}"
    yield postgres_url, table
    pg_query(postgres_url, f"DROP TABLE IF EXISTS {table}")
