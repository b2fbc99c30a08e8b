"""Who may use the admin API and the console: holders of an admin key, never a gateway key.

Admin keys come from ``admin.keys`` in settings and ``$GATEWAY_ADMIN_KEYS`` (comma-
separated), in clear or as ``sha256:<hex>``. A request presents one as
``x-portkey-admin-key`` or ``Authorization: Bearer``. With no admin key configured the
admin API is off (404); the console then follows its own setting (local dev proxy).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from proxy.errors import AuthenticationError
from proxy.keys import KeyRing, bearer, entries
from proxy.settings import AdminSettings

ADMIN_HEADER = "x-portkey-admin-key"


class AdminAuth:
    def __init__(self, settings: AdminSettings, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        env_value = env.get(settings.keys_env, "") if settings.keys_env else ""
        self.ring = KeyRing(entries(settings.keys, env_value, "admin"))

    @property
    def enabled(self) -> bool:
        return bool(self.ring)

    def check(self, headers: Mapping[str, str]) -> str:
        """The admin key's name; 401 when none or a wrong one is presented."""
        key = headers.get(ADMIN_HEADER) or bearer(headers.get("authorization"))
        if not key:
            raise AuthenticationError(
                f"an admin key is required: send {ADMIN_HEADER} or Authorization: Bearer",
                code="missing_admin_key",
            )
        name = self.ring.name_of(key)
        if name is None:
            raise AuthenticationError("invalid admin key", code="invalid_admin_key")
        return name
