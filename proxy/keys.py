"""Secrets the gateway checks (gateway keys, admin keys), kept only as SHA-256 digests.

Settings may write a key in clear (often a ``${VAR}`` from a Secret) or as
``sha256:<64 hex>`` so the file never holds it. Lookups hash the presented key once and
compare digests in constant time.
"""

from __future__ import annotations

import hashlib
import hmac

import msgspec


class KeyEntry(msgspec.Struct, forbid_unknown_fields=True):
    key: str
    name: str = "default"


def digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def parse_digest(entry: KeyEntry) -> bytes:
    """The entry's digest; ValueError naming the entry when ``sha256:`` is malformed."""
    if not entry.key.startswith("sha256:"):
        return digest(entry.key)
    try:
        found = bytes.fromhex(entry.key[7:])
    except ValueError:
        raise ValueError(f"key {entry.name!r}: sha256: must be followed by hex") from None
    if len(found) != 32:
        raise ValueError(f"key {entry.name!r}: a sha256 digest has 64 hex digits")
    return found


def entries(keys: list[str | KeyEntry], env_value: str, prefix: str) -> list[KeyEntry]:
    """Settings entries plus comma-separated keys from an environment variable."""
    out = [
        e if isinstance(e, KeyEntry) else KeyEntry(e, f"{prefix}{i}") for i, e in enumerate(keys)
    ]
    extra = [k.strip() for k in env_value.split(",") if k.strip()]
    return out + [KeyEntry(k, f"env{i}") for i, k in enumerate(extra)]


def bearer(value: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` value."""
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


class KeyRing:
    """Digests of known keys and their names."""

    def __init__(self, known: list[KeyEntry]) -> None:
        self.by_digest = {parse_digest(e): e.name for e in known}

    def __bool__(self) -> bool:
        return bool(self.by_digest)

    def name_of(self, key: str) -> str | None:
        presented = digest(key)
        found = None
        for known, name in self.by_digest.items():  # no early exit: constant time per key
            if hmac.compare_digest(known, presented):
                found = name
        return found
