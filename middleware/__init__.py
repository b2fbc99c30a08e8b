"""Pluggable middleware classes. Each module holds one class and its Options Struct."""
