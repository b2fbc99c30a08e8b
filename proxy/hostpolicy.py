"""Where the gateway may send a request on a client's behalf (egress control).

Two rules, one object:

- ``allow``: the destinations a client may choose (custom hosts, guardrail webhooks, JWKS
  URLs). Empty means any host (local use); an egress deployment lists exact host names,
  ``*.suffix`` wildcards and IP networks. Names are matched as names and never resolved
  here, so a DNS answer cannot widen the policy.
- ``deny``: networks no upstream call ever reaches, whoever chose the host (by default cloud
  metadata services and link-local addresses). Checked on literal IPs here and on every
  resolved address by ``GuardedResolver``, which the shared upstream session uses, so a
  name that resolves (or rebinds) into a denied network is refused too.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from proxy.errors import InvalidRequest, PermissionDenied
from proxy.settings import CustomHostSettings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
ALLOWED_CACHE = 1024


def _networks(entries: list[str], field: str) -> list[Network]:
    out = []
    for e in entries:
        try:
            out.append(ipaddress.ip_network(e.strip(), strict=False))
        except ValueError:
            raise ValueError(f"custom_hosts.{field}: {e!r} is not an IP network") from None
    return out


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped  # ::ffff:169.254.169.254 is 169.254.169.254
    return ip


class HostPolicy:
    def __init__(self, settings: CustomHostSettings) -> None:
        self.enabled = settings.enabled
        self.names: set[str] = set()
        self.suffixes: list[str] = []
        self.networks: list[Network] = []
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
        self.deny = _networks(settings.deny, "deny")
        # URLs already let through (every request re-checks its host twice: at resolution
        # and in the terminal step); refusals are not kept, callers may edit their errors
        self._allowed: dict[tuple[str, str], None] = {}

    def denied(self, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        return any(ip in net for net in self.deny)

    def check(self, url: str, param: str = "x-portkey-custom-host") -> None:
        """Raise 400 for a malformed URL and 403 for a destination outside the policy."""
        key = (url, param)
        if key in self._allowed:
            return
        self._check(url, param)
        if len(self._allowed) >= ALLOWED_CACHE:  # client-chosen URLs: keep the bound
            self._allowed.clear()
        self._allowed[key] = None

    def _check(self, url: str, param: str) -> None:
        parts = urlsplit(url)
        try:
            hostname = parts.hostname
        except ValueError:
            hostname = None
        if parts.scheme not in ("http", "https") or not hostname:
            raise InvalidRequest(
                "custom host must be an http(s) URL like https://host[:port]/v1",
                param=param,
                code="invalid_custom_host",
            )
        if not self.enabled:
            raise PermissionDenied(
                "custom hosts are disabled on this gateway",
                param=param,
                code="custom_host_forbidden",
            )
        host = hostname.lower().rstrip(".")
        ip = _ip(host)
        if ip is not None and self.denied(ip):
            raise PermissionDenied(
                f"custom host {host!r} is in a network this gateway never calls",
                param=param,
                code="custom_host_forbidden",
            )
        if self.open:
            return
        if host in self.names or any(host.endswith(s) for s in self.suffixes):
            return
        if ip is not None and any(ip in net for net in self.networks):
            return
        raise PermissionDenied(
            f"custom host {host!r} is not in this gateway's allowlist",
            param=param,
            code="custom_host_forbidden",
        )


class GuardedResolver(AbstractResolver):
    """The default resolver, minus every address in a denied network."""

    def __init__(self, policy: HostPolicy, inner: AbstractResolver | None = None) -> None:
        self.policy = policy
        self.inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self.inner.resolve(host, port, family)
        kept = [r for r in found if not self._denied(r)]
        if not kept:
            raise OSError(f"{host} resolves only to addresses this gateway never calls")
        return kept

    def _denied(self, r: ResolveResult) -> bool:
        ip = _ip(str(r["host"]))
        return ip is not None and self.policy.denied(ip)

    async def close(self) -> None:
        await self.inner.close()
