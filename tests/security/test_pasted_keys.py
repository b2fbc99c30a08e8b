"""A client's key pasted into the wrong field (model, trace id, metadata, config id,
provider) never comes back in the gateway's error message, nor reaches a log line
(proxy/redact.py). An upstream's own answer is relayed as it came.

Found by the long fuzz run (`make fuzz`): `x-portkey-config: "<key>"` was quoted back in
`unknown_config`'s message; a key as the model or the trace id was written into the
access line.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import httpx
import msgspec
import pytest

from proxy.redact import json_holds, redact_values, request_secrets
from tests.conftest import PROVIDER_KEY as KEY

PLACES: list[tuple[dict[str, str], dict[str, Any]]] = [
    ({"x-portkey-config": json.dumps(KEY)}, {}),
    ({"x-portkey-config": KEY}, {}),
    ({"x-portkey-provider": KEY}, {}),
    ({"x-portkey-provider": "openai"}, {"model": KEY}),
    ({}, {"model": f"@{KEY}/m"}),
    ({"x-portkey-provider": "openai", "x-portkey-trace-id": KEY}, {}),
    ({"x-portkey-provider": "openai", "x-portkey-metadata": json.dumps({"k": KEY})}, {}),
    ({"x-portkey-config": json.dumps({"strategy": {"mode": KEY}, "targets": []})}, {}),
]


@pytest.mark.parametrize(("headers", "body"), PLACES)
def test_a_pasted_key_never_comes_back_or_reaches_the_logs(
    make_gateway, mock_openai, logs, headers: dict[str, str], body: dict[str, Any]
) -> None:
    _, upstream = mock_openai
    gw = make_gateway()
    sent = {
        "authorization": f"Bearer {KEY}",
        "x-portkey-custom-host": upstream.url + "/v1",
        **headers,
    }
    payload = {"model": "m", "messages": [{"role": "user", "content": "hi"}], **body}
    r = httpx.post(gw.url + "/v1/chat/completions", headers=sent, json=payload, timeout=10)
    if r.status_code >= 400:  # the gateway's own answer (a 200 is the upstream's, relayed)
        assert KEY not in r.text
    assert r.headers.get("x-portkey-trace-id") != KEY
    lines = logs()
    assert lines, "the request wrote no log line"
    assert not [line for line in lines if KEY in json.dumps(line)]


def test_secrets_are_the_requests_credentials_only() -> None:
    headers = {
        "authorization": "Bearer sk-abcdefgh123",
        "x-api-key": "short",  # too short to hunt
        "x-portkey-api-key": "pk-live-0123456789",
    }
    secrets = request_secrets(headers)
    assert secrets == ("pk-live-0123456789", "sk-abcdefgh123")
    value = {"m": ["x sk-abcdefgh123 y", 3], "sk-abcdefgh123": None}
    assert redact_values(value, secrets) == {"m": ["x *** y", 3], "***": None}
    plain = {"m": ["nothing here"]}
    assert redact_values(plain, secrets) is plain


ESCAPED_KEY = 'sk-odd"key\\needs-json-escapes-0123'


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({"x-portkey-metadata": json.dumps({"k": ESCAPED_KEY})}, {}),
        ({}, {"model": ESCAPED_KEY}),
    ],
)
def test_a_key_that_json_escapes_is_redacted_from_the_access_line(
    make_gateway, mock_openai, logs, headers: dict[str, str], body: dict[str, Any]
) -> None:
    """The access line is checked as encoded JSON, where a quote or backslash in the key is
    escaped: the escaped form is what must be looked for."""
    _, upstream = mock_openai
    gw = make_gateway()
    sent = {
        "authorization": f"Bearer {ESCAPED_KEY}",
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": upstream.url + "/v1",
        **headers,
    }
    payload = {"model": "m", "messages": [{"role": "user", "content": "hi"}], **body}
    httpx.post(gw.url + "/v1/chat/completions", headers=sent, json=payload, timeout=10)
    lines = logs()
    assert [line for line in lines if line.get("event") == "request"], lines
    assert not [line for line in lines if ESCAPED_KEY in json.dumps(line)]
    assert not [line for line in lines if ESCAPED_KEY in str(line)]


def test_json_holds_finds_a_secret_as_json_writes_it() -> None:
    line = msgspec.json.encode({"model": f"x{ESCAPED_KEY}y", "n": 1})
    assert ESCAPED_KEY.encode() not in line  # escaped on the line
    assert json_holds(line, (ESCAPED_KEY,))
    assert not json_holds(msgspec.json.encode({"model": "gpt-4o"}), (ESCAPED_KEY,))


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_a_key_in_an_unknown_path_is_not_quoted_back(make_gateway, method: str) -> None:
    """The 404 comes from a fallback route, outside the front doors: it quotes the path,
    and the request's own key is redacted from it there too."""
    gw = make_gateway()
    # urllib, not httpx: httpx logs the URL it requests, key included, into the test's logs
    req = urllib.request.Request(  # noqa: S310 - loopback
        gw.url + f"/nope/{KEY}", headers={"authorization": f"Bearer {KEY}"}, method=method
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=10)  # noqa: S310 - loopback
    assert info.value.code == 404
    text = info.value.read().decode()
    assert KEY not in text
    assert json.loads(text)["error"]["message"] == f"no route for {method} /nope/***"
