"""The ``observability`` section of the settings file (see docs/observability.md)."""

from __future__ import annotations

from typing import Literal

import msgspec


class Price(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """USD per million tokens. ``cached_input`` (prompt tokens read from the provider's
    cache) and ``cache_write_input`` (written to it) default to ``input`` when unknown."""

    input: float
    output: float
    cached_input: float | None = None
    cache_write_input: float | None = None


class AuditSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One JSON record per request, written off the request path (a bounded queue)."""

    file: str | None = None  # JSON lines, rotated by size
    max_bytes: int = 100 * 1024 * 1024
    backups: int = 5  # rotated files kept: file.1 ... file.N
    webhook: str | None = None  # POSTed a JSON array of records per batch
    webhook_headers: dict[str, str] = msgspec.field(default_factory=dict)
    batch_size: int = 100
    flush_interval: float = 1.0  # seconds a partial batch may wait
    queue_size: int = 10_000  # records waiting; beyond it records are dropped (and counted)
    timeout: float = 5.0  # seconds for one webhook POST

    @property
    def enabled(self) -> bool:
        return bool(self.file or self.webhook)


class ObservabilitySettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    metrics: bool = True  # GET /metrics (needs the `observability` extra)
    # OTLP/HTTP traces endpoint, e.g. http://otel-collector:4318/v1/traces; no endpoint, no
    # tracing. "memory" keeps spans in the process (tests, debugging).
    otel_endpoint: str | None = None
    otel_exporter: Literal["otlp", "memory"] = "otlp"
    otel_service_name: str = "llm-gateway"
    otel_headers: dict[str, str] = msgspec.field(default_factory=dict)
    otel_sample_ratio: float = 1.0
    # price table: the shipped prices.json, then this file, then the inline table win
    prices_file: str | None = None
    prices: dict[str, dict[str, Price]] = msgspec.field(default_factory=dict)
    log_bodies: bool = False  # prompt and answer text in log lines and audit records
    audit: AuditSettings = msgspec.field(default_factory=AuditSettings)

    @property
    def tracing(self) -> bool:
        return self.otel_endpoint is not None or self.otel_exporter == "memory"
