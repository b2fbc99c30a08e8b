"""Property-based fuzz of the front door: bodies, headers and configs of any shape.

Whatever a client sends, the answer is a status below 500 (or 502/503/504 when the upstream
is at fault), every error is in OpenAI's shape, and no traceback or credential comes back
(the session-end check in tests/conftest.py scans every log line for the key too).

The upstream is a sink that answers every request with a valid chat completion, so a 5xx
can only be the gateway's own failure. CI runs the ``ci`` profile; ``make fuzz`` runs the
``long`` one (HYPOTHESIS_PROFILE=long) and prints the statistics.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy.app import create_app
from proxy.settings import parse_settings
from tests.conftest import PROVIDER_KEY
from tests.security.sinks import Sink
from tests.servers import ServerThread

settings.register_profile(
    "ci", max_examples=400, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.register_profile(
    "long", max_examples=20_000, deadline=None, suppress_health_check=list(HealthCheck)
)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")

KEYS = [
    "model", "messages", "role", "content", "stream", "stream_options", "include_usage",
    "tools", "tool_choice", "type", "response_format", "temperature", "n", "stop", "seed",
    "max_tokens", "function", "name", "arguments", "tool_calls", "tool_call_id", "json_schema",
    "schema", "image_url", "url", "text", "input", "strategy", "targets", "mode", "provider",
    "virtual_key", "custom_host", "retry", "attempts", "on_status_codes", "weight",
    "override_params", "cache", "conditions", "query", "then", "default", "api_key",
    "input_guardrails", "output_guardrails", "checks", "id", "parameters", "deny",
    "request_timeout", "cb_config", "failure_threshold", "$regex", "$gt", "$in", "$or",
]  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(allow_nan=False),
    st.sampled_from(
        [
            "",
            "user",
            "assistant",
            "tool",
            "system",
            "text",
            "fallback",
            "loadbalance",
            "conditional",
            "openai",
            "anthropic",
            "google",
            "bedrock",
            "azure-openai",
            "@s/m",
            "data:,",
            "http://127.0.0.1:1/v1",
            "http://169.254.169.254/",
            "\u0000",
            "é",
            PROVIDER_KEY,
            "^(a+)+$",
            "a" * 64,
        ]
    ),
    st.text(max_size=20),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=6)), inner, max_size=5),
    ),
    max_leaves=25,
)
MESSAGES = st.one_of(
    st.just([{"role": "user", "content": "hi"}]),
    st.lists(
        st.fixed_dictionaries(
            {"role": st.sampled_from(["user", "assistant", "system", "tool", "x"])},
            optional={"content": JSON, "tool_calls": JSON, "name": JSON, "tool_call_id": JSON},
        ),
        max_size=3,
    ),
    JSON,
)
BODY = st.one_of(
    st.fixed_dictionaries(
        {
            "model": st.one_of(st.sampled_from(["m", "@s/m", "@/x", "@nope/m"]), JSON),
            "messages": MESSAGES,
        },
        optional={
            k: JSON
            for k in (
                "stream",
                "tools",
                "tool_choice",
                "response_format",
                "n",
                "max_tokens",
                "stop",
                "temperature",
                "stream_options",
            )
        },
    ).map(lambda d: json.dumps(d).encode()),
    JSON.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=64),
)
# what an HTTP client can put in a header (raw bytes are fuzzed in tests/security/test_raw_http.py)
HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40).map(
    str.strip
)
HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "x-portkey-provider": st.one_of(
            st.sampled_from(["openai", "anthropic", "google", "bedrock", "vertex-ai", "azure"]),
            HEADER_TEXT,
        ),
        "x-portkey-config": st.one_of(JSON.map(json.dumps), HEADER_TEXT),
        "x-portkey-metadata": st.one_of(JSON.map(json.dumps), HEADER_TEXT),
        "x-portkey-request-timeout": HEADER_TEXT,
        "x-portkey-forward-headers": HEADER_TEXT,
        "x-portkey-aws-region": HEADER_TEXT,
        "x-portkey-azure-resource-name": HEADER_TEXT,
        "x-portkey-vertex-region": HEADER_TEXT,
        "x-portkey-trace-id": HEADER_TEXT,
    },
)
PATHS = st.sampled_from(
    ["/v1/chat/completions", "/v1/embeddings", "/v1/completions", "/v1/images/generations"]
)
UPSTREAM_FAULTS = {502, 503, 504}


@pytest.fixture(scope="module")
def target() -> Iterator[tuple[str, str]]:
    sink = Sink()
    with ServerThread(sink.app) as upstream:
        raw = {"providers": {"s": {"provider": "openai", "api_key": "sk-settings-key-0003",
                                   "custom_host": upstream.url + "/v1"}}}  # fmt: skip
        gw = ServerThread(lambda: create_app(parse_settings(raw, {}))).start()
        try:
            yield gw.url, upstream.url
        finally:
            gw.stop()


@settings(settings.get_profile(PROFILE))
@given(path=PATHS, body=BODY, headers=HEADERS, own_host=st.booleans())
def test_any_request_gets_a_clean_answer(target, path, body, headers, own_host) -> None:
    gw_url, upstream_url = target
    sent: dict[str, Any] = {"content-type": "application/json", **headers}
    sent["authorization"] = f"Bearer {PROVIDER_KEY}"
    if own_host:
        sent["x-portkey-custom-host"] = upstream_url + "/v1"
    r = httpx.post(gw_url + path, content=body, headers=sent, timeout=30)
    text = r.text
    assert r.status_code < 500 or r.status_code in UPSTREAM_FAULTS, text[:500]
    assert "Traceback" not in text and PROVIDER_KEY not in text
    assert "sk-settings-key-0003" not in text
    if r.status_code >= 400:
        err = r.json()["error"]
        assert set(err) == {"message", "type", "param", "code"}
        assert isinstance(err["message"], str) and err["message"]
