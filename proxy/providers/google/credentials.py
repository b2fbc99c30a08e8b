"""Vertex AI access tokens from google-auth, cached and refreshed by ``proxy.credentials``.

Two sources, after an explicit ``vertex_token`` (which wins):

- ``vertex_service_account_json``: a service-account key. From settings it is the
  gateway's; from ``x-portkey-vertex-service-account-json`` or an inline config it is the
  client's own, and then read with care: only as a key of ``type: service_account`` (never
  ``external_account`` and the like, whose JSON names URLs to fetch or programs to run), only
  the fields such a key has, an RSA key of bounded size, and a ``token_uri`` that is Google's
  (or one settings list in ``credentials.google_token_uris``) and passes the egress policy.
  google-auth signs a JWT with the key and trades it at the token endpoint for a token.
- ``vertex_auth: adc`` (settings only, ``bind()`` refuses it from a client): the gateway's
  own identity through Application Default Credentials: a key file named by
  GOOGLE_APPLICATION_CREDENTIALS, gcloud's ADC, workload identity federation, or the metadata
  server (GCE, GKE workload identity, Cloud Run).

A client's keys are cached by a digest of the whole JSON (its private key included), so a
key that only names someone else's ``client_email`` never gets their token. When the target
has no project, the key's ``project_id`` (or the one ADC found) is used.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
from typing import TYPE_CHECKING, Any

import structlog

from proxy.credentials import CloudCredentials, Fetched
from proxy.errors import AuthenticationError, GatewayError, InvalidRequest, UpstreamUnreachable
from proxy.target import Target

if TYPE_CHECKING:
    from proxy.providers.google.authhttp import LoopTransport

log = structlog.get_logger("gateway.credentials")
SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
GOOGLE_TOKEN_URIS = frozenset(
    {"https://oauth2.googleapis.com/token", "https://accounts.google.com/o/oauth2/token"}
)
HEADER = "x-portkey-vertex-service-account-json"
MAX_KEY_CHARS = 4000  # the PEM of a 4096-bit RSA key is ~3.3k; a larger one only costs CPU
# what a service-account key holds that google-auth needs; anything else is left out
_KEY_FIELDS = frozenset(
    {"type", "project_id", "private_key_id", "private_key", "client_email", "client_id"}
)
_REQUIRED = ("client_email", "private_key", "token_uri")

Token = tuple[str, str | None]  # (access token, project id if known)


async def access_token(target: Target, cloud: CloudCredentials) -> Token | None:
    """A token for ``target`` from its key or the gateway's identity; None: neither set."""
    key = target.text("vertex_service_account_json")
    if key:
        held = "vertex_service_account_json" in target.settings_fields
        info = service_account_info(key, "vertex_service_account_json" if held else HEADER)
        digest = hashlib.sha256(key.encode()).hexdigest()
        loop = asyncio.get_running_loop()
        if held:
            return await cloud.held.get(ServiceAccount(info, digest, cloud, loop, held=True))  # type: ignore[no-any-return]
        check_token_uri(info["token_uri"], cloud)
        return await cloud.client.get(ServiceAccount(info, digest, cloud, loop, held=False))  # type: ignore[no-any-return]
    mode = target.text("vertex_auth")
    if mode:
        if mode.strip().lower() != "adc":
            raise InvalidRequest(
                f"vertex_auth {mode!r} is not known: the only value is 'adc'",
                param="vertex_auth",
                code="invalid_vertex_auth",
            )
        return await cloud.held.get(Adc(cloud, asyncio.get_running_loop()))  # type: ignore[no-any-return]
    return None


def service_account_info(text: str, param: str) -> dict[str, str]:
    """The fields of a service-account key that google-auth reads (400 otherwise)."""

    def bad(why: str) -> InvalidRequest:
        return InvalidRequest(
            f"vertex service account: {why}", param=param, code="invalid_service_account"
        )

    try:
        info = json.loads(text)
    except ValueError:
        raise bad("not JSON (send the key file's content)") from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise bad('only a service-account key ("type": "service_account") is accepted')
    for name in _REQUIRED:
        if not isinstance(info.get(name), str) or not info[name]:
            raise bad(f"{name} is missing")
    if len(info["private_key"]) > MAX_KEY_CHARS:
        raise bad("private_key is larger than a 4096-bit RSA key")
    kept = {k: v for k, v in info.items() if k in _KEY_FIELDS and isinstance(v, str)}
    kept["token_uri"] = info["token_uri"]
    return kept


def check_token_uri(uri: str, cloud: CloudCredentials) -> None:
    """A client's key may only send its JWT to Google's token endpoint (or one settings
    name), and only where the egress policy lets client-chosen URLs go."""
    if uri not in GOOGLE_TOKEN_URIS and uri not in cloud.settings.google_token_uris:
        raise InvalidRequest(
            "vertex service account: token_uri must be Google's token endpoint "
            "(https://oauth2.googleapis.com/token)",
            param=HEADER,
            code="invalid_service_account",
        )
    cloud.host_policy.check(uri, param=HEADER)


def _expiry(when: dt.datetime | None) -> float | None:
    # google-auth keeps expiry as naive UTC
    return None if when is None else when.replace(tzinfo=dt.UTC).timestamp()


class ServiceAccount:
    """A service-account key's tokens (JWT bearer grant at its token endpoint)."""

    kind = "vertex service account"

    def __init__(
        self,
        info: dict[str, str],
        digest: str,
        cloud: CloudCredentials,
        loop: asyncio.AbstractEventLoop,
        *,
        held: bool,
    ) -> None:
        self.key = f"vertex-sa:{digest}"
        self.info = info
        self.held = held
        self.cloud = cloud
        self.loop = loop
        self._creds: Any = None

    def transport(self) -> LoopTransport:
        from proxy.providers.google.authhttp import LoopTransport

        timeout = self.cloud.settings.timeout
        if self.held:
            return LoopTransport(self.loop, self.cloud.own_session, timeout)
        uri = self.info["token_uri"]
        return LoopTransport(
            self.loop,
            self.cloud.shared_session,
            timeout,
            allowed=frozenset({uri}),
            check=lambda url: self.cloud.host_policy.check(url, param=HEADER),
        )

    def fetch(self) -> Fetched:
        from google.auth import exceptions
        from google.oauth2 import service_account

        try:
            if self._creds is None:
                self._creds = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                    self.info, scopes=SCOPES
                )
            self._creds.refresh(self.transport())
        except GatewayError:
            raise
        except ValueError:
            raise self._refused("its private_key is not a usable RSA key") from None
        except exceptions.RefreshError as exc:
            raise self._refused(f"the token endpoint refused it ({_reason(exc)})") from None
        except exceptions.TransportError as exc:
            raise UpstreamUnreachable(
                f"vertex-ai: no token for the service account ({_reason(exc)})",
                code="token_endpoint_unreachable",
                provider="vertex-ai",
            ) from None
        token = (self._creds.token, self.info.get("project_id"))
        return Fetched(token, _expiry(self._creds.expiry))

    def _refused(self, why: str) -> GatewayError:
        if self.held:  # the operator's key: not the client's fault, the detail to the log
            log.warning("credentials.service_account_unusable", error=why)
            return GatewayError(
                "vertex-ai: the gateway's service account is unusable",
                status=503,
                code="credentials_unavailable",
            )
        return AuthenticationError(
            f"vertex service account: {why}", param=HEADER, code="invalid_service_account"
        )


class Adc:
    """The gateway's own identity: Application Default Credentials."""

    kind = "vertex adc"
    key = "vertex-adc"

    def __init__(self, cloud: CloudCredentials, loop: asyncio.AbstractEventLoop) -> None:
        self.cloud = cloud
        self.loop = loop
        self._creds: Any = None
        self._project: str | None = None

    def fetch(self) -> Fetched:
        import google.auth
        from google.auth import exceptions

        from proxy.providers.google.authhttp import LoopTransport

        request = LoopTransport(self.loop, self.cloud.own_session, self.cloud.settings.timeout)
        try:
            if self._creds is None:
                self._creds, self._project = google.auth.default(scopes=SCOPES, request=request)
            self._creds.refresh(request)
        except exceptions.GoogleAuthError as exc:
            # the detail (file paths, the account) is the operator's: to the log
            log.warning("credentials.adc_unavailable", error=_reason(exc))
            raise GatewayError(
                "vertex-ai: the gateway's own Google credentials are unavailable "
                f"({type(exc).__name__})",
                status=503,
                code="credentials_unavailable",
            ) from None
        return Fetched((self._creds.token, self._project), _expiry(self._creds.expiry))


def _reason(exc: Exception) -> str:
    """The first argument of a google-auth error, short (never the request it made)."""
    first = exc.args[0] if exc.args else type(exc).__name__
    return str(first)[:200]
