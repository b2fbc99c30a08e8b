"""What the admin API reads (bounded, typed bodies) and shows (keys without secrets)."""

from __future__ import annotations

import time
from typing import Any, TypeVar

import msgspec
from aiohttp import web

from proxy.errors import GatewayError, InvalidRequest, validation_where
from proxy.keystore import KeyRecord
from proxy.quota.policy import (
    MAX_GLOB_CHARS,
    KeyPolicy,
    Limits,
    check_limits,
    iso,
    period_bucket,
    period_start,
)

MAX_BODY = 64 * 1024
T = TypeVar("T")


class CreateKey(Limits, forbid_unknown_fields=True, kw_only=True):
    name: str


async def decode_body(request: web.Request, kind: type[T]) -> T:
    """The JSON body as ``kind``: 415 unless ``application/json`` (a cross-site form
    cannot send that without a CORS preflight this API never answers), 413 over 64 KB."""
    if request.content_type != "application/json":
        raise GatewayError(
            "the admin API takes application/json bodies",
            status=415,
            type="invalid_request_error",
            code="unsupported_media_type",
        )
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise GatewayError("body too large", status=413, type="invalid_request_error")
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise GatewayError("body too large", status=413, type="invalid_request_error")
    try:
        value = msgspec.json.decode(raw, type=kind, strict=False)
    except msgspec.ValidationError as exc:
        message, field = validation_where(exc)
        raise InvalidRequest(
            f"{field}: {message}" if field else message, param=field or None, code="invalid_body"
        ) from None
    except msgspec.DecodeError:
        raise InvalidRequest("the body is not valid JSON", code="invalid_body") from None
    if isinstance(value, CreateKey):
        _check_name(value.name)
    return value


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not 0 < len(name) <= MAX_GLOB_CHARS or not name.isprintable():
        raise InvalidRequest(
            f"name: 1 to {MAX_GLOB_CHARS} printable characters", param="name", code="invalid_body"
        )


def merged_limits(changes: Limits | dict[str, Any], current: Limits | None) -> Limits:
    """A new policy: ``changes`` (a whole policy, or a PATCH's fields) over ``current``."""
    if isinstance(changes, Limits):
        fields = {f: getattr(changes, f) for f in Limits.__struct_fields__}
    else:
        base = msgspec.to_builtins(current) if current is not None else {}
        fields = {**base, **changes}
        if "name" in changes:
            _check_name(changes["name"])
    try:
        limits = msgspec.convert(fields, Limits, strict=False)
        check_limits(limits, "body")
    except msgspec.ValidationError as exc:
        message, field = validation_where(exc)
        raise InvalidRequest(
            f"{field}: {message}" if field else message, param=field or None, code="invalid_body"
        ) from None
    except ValueError as exc:
        raise InvalidRequest(str(exc).removeprefix("body."), code="invalid_body") from None
    return limits


def key_view(rec: KeyRecord) -> dict[str, Any]:
    """A key as the admin API shows it: never its secret, never its digest."""
    limits = msgspec.to_builtins(rec.limits)
    expires = KeyPolicy(rec.id, rec.name, rec.limits).expires_at
    status = "active"
    if rec.revoked_at is not None:
        status = "revoked"
    elif expires is not None and time.time() >= expires:
        status = "expired"
    return {
        "id": rec.id,
        "object": "gateway_key",
        "name": rec.name,
        "source": rec.source,
        "status": status,
        "created_at": rec.created_at,
        "updated_at": rec.updated_at,
        "revoked_at": rec.revoked_at,
        **limits,
    }


def budget_view(policy: KeyPolicy) -> dict[str, Any]:
    now = time.time()
    bucket, ends = period_bucket(policy.budget_period, now)
    return {
        "period": policy.budget_period,
        "bucket": bucket,
        "period_start": period_start(policy.budget_period, now),
        "resets_at": iso(ends) if ends is not None else None,
        "limit_usd": policy.budget_micros / 1e6 if policy.budget_micros >= 0 else None,
    }
