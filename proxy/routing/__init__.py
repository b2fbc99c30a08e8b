"""Routing: the x-portkey-config schema, target resolution and strategies."""
