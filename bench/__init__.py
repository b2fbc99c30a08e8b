"""The project's own benchmark: ``python -m bench`` (see bench/README.md)."""
