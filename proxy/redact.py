"""A request's own credentials, kept out of everything the gateway writes about it.

A client can put its key anywhere: a model name, a trace id, metadata, a config id, a
provider name. The gateway echoes some of those — error messages name the value they
refuse, the access line logs the model and the trace id — so a key pasted into the wrong
field would land in an answer and in the operators' logs. Every credential the request
carried (its bearer token, the key headers and the provider-secret headers) is replaced
by ``***`` wherever it appears, decided here for every door: the access line and error
messages both go through ``redact``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from proxy.providers import SECRET_HEADERS

MIN_SECRET = 8  # shorter values are not worth hunting (and would mask ordinary words)

_KEY_HEADERS = ("x-portkey-api-key", "x-api-key", "api-key", "x-goog-api-key")
_SECRET_NAMES = (*_KEY_HEADERS, *SECRET_HEADERS)


def request_secrets(headers: Mapping[str, str]) -> tuple[str, ...]:
    """The credential values a request carried, longest first (a key that contains
    another is masked whole)."""
    found: list[str] = []
    auth = headers.get("authorization")
    if auth:
        scheme, _, token = auth.strip().partition(" ")
        found.append(token.strip() if token else scheme)
    get = headers.get
    for name in _SECRET_NAMES:
        value = get(name)
        if value:
            found.append(value.strip())
    if len(found) == 1:  # nearly every request: one key
        return (found[0],) if len(found[0]) >= MIN_SECRET else ()
    return tuple(sorted({s for s in found if len(s) >= MIN_SECRET}, key=len, reverse=True))


def redact(text: str, secrets: tuple[str, ...]) -> str:
    for s in secrets:
        if s in text:
            text = text.replace(s, "***")
    return text


def redact_values(value: Any, secrets: tuple[str, ...]) -> Any:
    """``value`` with every string in it (dict keys and values, list items) redacted;
    the same object when nothing in it holds a secret."""
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        out = {redact_values(k, secrets): redact_values(v, secrets) for k, v in value.items()}
        return out if out != value else value
    if isinstance(value, (list, tuple)):
        items = [redact_values(v, secrets) for v in value]
        return items if items != list(value) else value
    return value


def json_holds(line: bytes, secrets: tuple[str, ...]) -> bool:
    """Whether a JSON text holds one of ``secrets`` in a string. Each is looked for as JSON
    writes it (escaping is per character, so a string holding the secret holds its escaped
    form): one substring search per secret, where redacting field by field walks them all.
    A rare false positive (a secret of digits inside a number) only costs that walk."""
    for s in secrets:
        try:
            escaped = msgspec.json.encode(s)[1:-1]
        except (msgspec.EncodeError, UnicodeEncodeError):
            return True  # cannot tell (a lone surrogate): redact field by field
        if escaped in line:
            return True
    return False
