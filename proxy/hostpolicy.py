"""Which custom hosts a client may send requests to (egress control).

Custom hosts are allowed by default (local use). An egress deployment lists what is allowed:
exact host names, ``*.suffix`` wildcards and IP networks. Host names are matched as names and
never resolved here, so a DNS answer cannot widen the policy.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from proxy.errors import InvalidRequest, PermissionDenied
from proxy.settings import CustomHostSettings


class HostPolicy:
    def __init__(self, settings: CustomHostSettings) -> None:
        self.enabled = settings.enabled
        self.names: set[str] = set()
        self.suffixes: list[str] = []
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in settings.allow:
            e = entry.strip().lower()
            if e.startswith("*."):
                self.suffixes.append(e[1:])  # ".corp.example"
                continue
            try:
                self.networks.append(ipaddress.ip_network(e, strict=False))
            except ValueError:
                self.names.add(e)
        self.open = not (self.names or self.suffixes or self.networks)

    def check(self, url: str) -> None:
        """Raise 400 for a malformed URL and 403 for a host outside the policy."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidRequest(
                "custom host must be an http(s) URL like https://host[:port]/v1",
                param="x-portkey-custom-host",
                code="invalid_custom_host",
            )
        if not self.enabled:
            raise PermissionDenied(
                "custom hosts are disabled on this gateway",
                param="x-portkey-custom-host",
                code="custom_host_forbidden",
            )
        if self.open:
            return
        host = parts.hostname.lower().rstrip(".")
        if host in self.names or any(host.endswith(s) for s in self.suffixes):
            return
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            ip = None
        if ip is not None and any(ip in net for net in self.networks):
            return
        raise PermissionDenied(
            f"custom host {host!r} is not in this gateway's allowlist",
            param="x-portkey-custom-host",
            code="custom_host_forbidden",
        )
