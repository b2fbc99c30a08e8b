"""Gateway: the process-wide state built once from settings (no import-time singletons)."""

from __future__ import annotations

from typing import Any

import aiohttp
import structlog

from proxy.adminauth import AdminAuth
from proxy.console.hub import Console
from proxy.credentials import CloudCredentials
from proxy.errors import GatewayError
from proxy.frontdoors import ENDPOINTS
from proxy.hostpolicy import HostPolicy
from proxy.keystore import KeyStore
from proxy.ledger.writer import LedgerWriter
from proxy.observability.observer import Observability
from proxy.pipeline import Next, SettingsError, applies, instantiate, reads_events
from proxy.providers import PROVIDERS, canonical
from proxy.quota.service import Quota
from proxy.routing.config import ConfigNode, parse_config
from proxy.settings import Settings
from proxy.target import Target


class Gateway:
    """Settings, the shared upstream session, parsed configs and the frozen chain."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.log = structlog.get_logger("gateway")
        try:
            self.host_policy = HostPolicy(settings.custom_hosts)
        except ValueError as exc:
            raise SettingsError(str(exc)) from None
        self.observability = Observability(settings.observability)
        # targets built from a client's headers (and slug), already bound: see resolve.py
        self.bound_targets: dict[tuple[Any, ...], Target] = {}
        self.console: Console | None = None
        if settings.console.enabled:
            self.console = Console(settings.console, settings.server.workers)
            self.observability.console = self.console  # fed from finish()
        try:
            self.admin = AdminAuth(settings.admin)
        except ValueError as exc:
            raise SettingsError(f"admin.keys: {exc}") from None
        # gateway keys made at run time, the limiter and the ledger: shared by every
        # replica through settings.redis / settings.ledger (docs/keys.md)
        r = settings.redis
        self.keys = KeyStore(r.url, r.prefix, r.timeout, settings.limits.key_cache_seconds)
        self.quota = Quota(settings.limits, r)
        if settings.ledger.url is not None:
            self.observability.ledger = LedgerWriter(settings.ledger)
        for slug, prov in settings.providers.items():
            if canonical(prov.provider) not in PROVIDERS:
                raise SettingsError(
                    f"providers.{slug}.provider: unknown provider {prov.provider!r}; "
                    f"known: {', '.join(sorted(PROVIDERS))}"
                )
        self.configs: dict[str, ConfigNode] = {}
        for cid, raw in settings.configs.items():
            self.configs[cid] = _settings_config(raw, f"configs.{cid}")
        self.default_config: ConfigNode | None = None
        if isinstance(settings.default_config, str):
            self.default_config = self.configs[settings.default_config]
        elif isinstance(settings.default_config, dict):
            self.default_config = _settings_config(settings.default_config, "default_config")
        self.middlewares: list[Any] = []
        for i, entry in enumerate(settings.middleware):
            if entry.enabled:
                self.middlewares.append(
                    instantiate(entry.cls, entry.options, field=f"middleware[{i}]")
                )
        self._session: aiohttp.ClientSession | None = None
        # Vertex tokens and AWS keys the gateway obtains (proxy/credentials.py)
        self.credentials = CloudCredentials(self)
        self.ready = False
        self.chains: dict[str, Next] = {}
        # endpoints whose chain holds a middleware that reads stream events one by one
        self.event_readers: set[str] = set()

    async def start_state(self) -> None:
        await self.quota.start()

    async def stop_state(self) -> None:
        """After the drain: open reservations settled, then the stores closed."""
        await self.quota.stop()
        await self.keys.close()
        await self.credentials.close()

    def providers_named_in_settings(self) -> set[str]:
        """Providers the settings use (entries and configs): their adapters are warmed."""
        names = {canonical(e.provider) for e in self.settings.providers.values()}
        nodes = [*self.configs.values()]
        if self.default_config is not None:
            nodes.append(self.default_config)
        while nodes:
            node = nodes.pop()
            if node.provider:
                names.add(canonical(node.provider))
            nodes.extend(node.targets or ())
        return names & PROVIDERS.keys()

    def freeze(self, terminal: Next) -> None:
        """Fold one chain per endpoint, each with the middlewares that declare it (a
        middleware without ``endpoints`` applies to all), the terminal step pinned last."""
        for endpoint in sorted(ENDPOINTS):
            mws = [m for m in self.middlewares if applies(m, endpoint)]
            if any(reads_events(m) for m in mws):
                self.event_readers.add(endpoint)
            # with tracing on, each middleware and each upstream attempt gets its own span
            self.chains[endpoint] = self.observability.chain(mws, terminal)

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("the upstream session is opened on start-up")
        return self._session

    @session.setter
    def session(self, value: aiohttp.ClientSession | None) -> None:
        self._session = value


def _settings_config(raw: dict[str, Any], field: str) -> ConfigNode:
    try:
        return parse_config(raw)
    except GatewayError as exc:
        raise SettingsError(f"{field}: {exc.message.removeprefix('invalid config: ')}") from None
