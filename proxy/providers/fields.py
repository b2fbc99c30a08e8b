"""What a provider package declares about the target fields it reads.

A provider's own fields (Azure's resource, AWS's region and keys, Vertex's project, ...)
are not part of the core Target: each package lists them as ``FIELDS`` and the registry
(``proxy/providers/__init__.py``) merges them. From the declarations come the
``x-portkey-*`` headers that set them, what is masked in logs, and what ``bind()`` rules
on: which fields are credentials, which move the destination host, which pick the account
a key acts for, and which only settings may set (the gateway's own cloud identity). Configs
and settings entries write them at the top level, as Portkey does.
"""

from __future__ import annotations

import msgspec


class FieldSpec(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    header: str | None = None  # the x-portkey-* header that sets it, if any
    secret: bool = False  # never logged, never echoed (masked in reprs)
    credential: bool = False  # authenticates: a gateway-held one stays where settings send it
    destination: bool = False  # decides the host the request goes to
    scoping: bool = False  # picks the account a credential acts for
    # turns on, or shapes, the gateway's own cloud identity (ADC, instance role, AssumeRole
    # from it, a profile on disk): only settings may set it; from a client it is a 403
    gateway_only: bool = False


def merge(groups: list[tuple[FieldSpec, ...]]) -> dict[str, FieldSpec]:
    """One name, one meaning: two packages may declare a field only identically."""
    out: dict[str, FieldSpec] = {}
    for group in groups:
        for spec in group:
            seen = out.get(spec.name)
            if seen is not None and seen != spec:
                raise ValueError(f"target field {spec.name!r} is declared twice, differently")
            out[spec.name] = spec
    return out
