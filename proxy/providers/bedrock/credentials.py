"""AWS keys from botocore's credential chain and STS, cached and refreshed by
``proxy.credentials``; the request is then SigV4-signed with them (``api.sign``).

Settings only (``bind()`` refuses each of these fields from a client: they use the
gateway's own identity):

- ``aws_auth: chain``: botocore's default chain, as the AWS SDKs resolve it: environment
  variables, the shared credentials and config files (``aws_profile`` picks a profile,
  and alone implies the chain), web identity (IRSA: ``AWS_ROLE_ARN`` +
  ``AWS_WEB_IDENTITY_TOKEN_FILE``), the container endpoint (ECS, EKS Pod Identity) and the
  instance metadata service (IMDSv2).
- ``aws_role_arn``: AssumeRole with ``aws_external_id`` and ``aws_role_session_name``
  (default ``llm-gateway``), from the settings' own key pair when settings give one, else
  from the chain above. STS is called in the settings' region (else botocore's, else
  us-east-1):
  nothing a client sends makes a new source, so a client cannot make the gateway call STS.

botocore's own ``RefreshableCredentials`` keep their refresh logic; the pool calls
``get_frozen_credentials()`` only in a worker thread (it may block on the network) and
hands requests the frozen keys, so signing never waits for a refresh.
"""

from __future__ import annotations

import functools
import hashlib
from typing import Any

import structlog

from proxy.credentials import CloudCredentials, Fetched, with_fields
from proxy.errors import GatewayError, InvalidRequest
from proxy.providers.bedrock.api import region_of
from proxy.target import Target

log = structlog.get_logger("gateway.credentials")
SESSION_NAME = "llm-gateway"
Keys = tuple[str, str, str | None]  # access key id, secret key, session token


async def prepared(target: Target, cloud: CloudCredentials) -> Target:
    """``target`` with the key pair of its settings-chosen source, or unchanged."""
    role = target.text("aws_role_arn")
    mode = target.text("aws_auth")
    profile = target.text("aws_profile")
    if mode and mode.strip().lower() != "chain":
        raise InvalidRequest(
            f"aws_auth {mode!r} is not known: the only value is 'chain'",
            param="aws_auth",
            code="invalid_aws_auth",
        )
    if role:
        source: Chain | AssumeRole = AssumeRole(target, role, profile)
    elif mode or profile:
        source = Chain(profile)
    else:
        return target
    key_id, secret, token = await cloud.held.get(source)
    keys = {"aws_access_key_id": key_id, "aws_secret_access_key": secret}
    if token:
        keys["aws_session_token"] = token
    ready = with_fields(target, **keys)
    if not token and ready.fields:  # a static pair: no session token may ride along
        ready.fields.pop("aws_session_token", None)
    return ready


def _unavailable(what: str, exc: Exception) -> GatewayError:
    """A 503 naming only the failure's type: the detail (ARNs, account ids, file paths)
    is the operator's, so it goes to the log."""
    log.warning("credentials.aws_unavailable", source=what, error=str(exc)[:500])
    return GatewayError(
        f"bedrock: the gateway's own AWS credentials are unavailable ({what}: "
        f"{type(exc).__name__})",
        status=503,
        code="credentials_unavailable",
    )


def _expiry(creds: Any) -> float | None:
    """When botocore's refreshable credentials expire (None: static keys).

    ``_expiry_time`` is botocore's own field (RefreshableCredentials, since 2014); botocore
    has no public accessor for it."""
    when = getattr(creds, "_expiry_time", None)
    return None if when is None else float(when.timestamp())


def _frozen(creds: Any) -> Fetched:
    frozen = creds.get_frozen_credentials()
    return Fetched((frozen.access_key, frozen.secret_key, frozen.token), _expiry(creds))


class Chain:
    """botocore's default credential chain (optionally a named profile)."""

    kind = "aws chain"

    def __init__(self, profile: str | None) -> None:
        self.profile = profile or None
        self.key = f"aws-chain:{self.profile or ''}"
        self._creds: Any = None

    def fetch(self) -> Fetched:
        import botocore.session  # type: ignore[import-untyped]

        try:
            if self._creds is None:
                found = botocore.session.Session(profile=self.profile).get_credentials()
                if found is None:
                    raise LookupError("no credentials in the chain")
                self._creds = found
            return _frozen(self._creds)
        except Exception as exc:
            raise _unavailable("credential chain", exc) from None


class AssumeRole:
    """STS AssumeRole from the settings' key pair or the chain, refreshed by botocore."""

    kind = "aws assume-role"

    def __init__(self, target: Target, role: str, profile: str | None) -> None:
        self.role = role
        self.profile = profile or None
        held = target.settings_fields
        # STS in the settings' region (a client's region must not mint sources); else
        # botocore's own (AWS_REGION, the profile), else us-east-1
        self.region = region_of(target) if "aws_region" in held else None
        self.external_id = target.text("aws_external_id")
        self.session_name = target.text("aws_role_session_name") or SESSION_NAME
        # only the settings' own key pair may be the source: a client's keys never assume
        # the role settings name (nor carry the settings' external id)
        self.static: Keys | None = None
        key_id, secret = target.text("aws_access_key_id"), target.text("aws_secret_access_key")
        if key_id and secret and {"aws_access_key_id", "aws_secret_access_key"} <= held:
            token = target.text("aws_session_token")
            self.static = (key_id, secret, token if "aws_session_token" in held else None)
        parts = [role, self.external_id or "", self.session_name, self.profile or ""]
        parts += [self.region or "", *(x or "" for x in self.static or ())]
        self.key = "aws-role:" + hashlib.sha256("\0".join(parts).encode()).hexdigest()
        self._creds: Any = None

    def fetch(self) -> Fetched:
        import botocore.session
        from botocore import credentials as bc

        try:
            if self._creds is None:
                session = botocore.session.Session(profile=self.profile)
                base = bc.Credentials(*self.static) if self.static else session.get_credentials()
                if base is None:
                    raise LookupError("no source credentials in the chain")
                extra = {"RoleSessionName": self.session_name}
                if self.external_id:
                    extra["ExternalId"] = self.external_id
                region = self.region or session.get_config_variable("region") or "us-east-1"
                fetcher = bc.AssumeRoleCredentialFetcher(
                    functools.partial(session.create_client, region_name=region),
                    base,
                    self.role,
                    extra_args=extra,
                )
                self._creds = bc.DeferredRefreshableCredentials(
                    refresh_using=fetcher.fetch_credentials, method="assume-role"
                )
            return _frozen(self._creds)
        except Exception as exc:
            raise _unavailable("AssumeRole", exc) from None
