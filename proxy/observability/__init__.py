"""Observability: Prometheus metrics, OpenTelemetry traces, token usage and cost, audit sink.

Kept import-light: prometheus-client and opentelemetry are an optional extra and are only
imported when the settings turn them on (see ``observer.Observability``).
"""
