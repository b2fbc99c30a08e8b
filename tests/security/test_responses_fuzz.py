"""Property-based fuzz of /v1/responses: bodies of any shape, ids of any text.

Whatever a client sends, the answer is below 500 (or 502/503/504 when the upstream is at
fault), errors are in OpenAI's shape, a 200 stream is well-formed Responses events, and no
traceback or credential comes back. The upstream is a sink answering every call with a
valid chat completion: through ``groq`` (an OpenAI-compatible provider, so translated) the
whole path runs, request codec, answer and event writers and the store included; through
``openai`` (native) the sink's answer is not a Response, which must be a 502.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy.app import create_app
from proxy.settings import parse_settings
from tests.conftest import PROVIDER_KEY
from tests.responses import strict
from tests.security.sinks import Sink
from tests.servers import ServerThread

settings.register_profile(
    "responses-ci", max_examples=120, deadline=None, suppress_health_check=list(HealthCheck)
)
PROFILE = "long" if os.environ.get("HYPOTHESIS_PROFILE") == "long" else "responses-ci"

KEYS = [
    "type", "role", "content", "text", "call_id", "name", "arguments", "output", "id",
    "image_url", "file_data", "file_id", "detail", "format", "schema", "effort", "mode",
    "tools", "parameters", "input_audio", "refusal", "summary", "strict",
]  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.sampled_from(
        [
            "message",
            "function_call",
            "function_call_output",
            "reasoning",
            "item_reference",
            "input_text",
            "output_text",
            "input_image",
            "input_file",
            "refusal",
            "user",
            "assistant",
            "system",
            "developer",
            "function",
            "web_search_preview",
            "json_schema",
            "json_object",
            "allowed_tools",
            "auto",
            "required",
            "none",
            "data:,",
            "resp_gw00",
            "resp_abc",
            "\u0000",
            "é",
            PROVIDER_KEY,
        ]
    ),
    st.text(max_size=12),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=5)), inner, max_size=5),
    ),
    max_leaves=25,
)
BODY = st.one_of(
    st.fixed_dictionaries(
        {"model": st.sampled_from(["m", "@s/m"]), "input": st.one_of(st.text(max_size=8), JSON)},
        optional={
            k: JSON
            for k in (
                "instructions",
                "tools",
                "tool_choice",
                "text",
                "reasoning",
                "store",
                "previous_response_id",
                "max_output_tokens",
                "background",
                "metadata",
                "truncation",
            )
        }
        | {"stream": st.booleans()},
    ).map(lambda d: json.dumps(d).encode()),
    JSON.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=48),
)
UPSTREAM_FAULTS = {502, 503, 504}


@pytest.fixture(scope="module")
def target() -> Iterator[tuple[str, str]]:
    sink = Sink()
    with ServerThread(sink.app) as upstream:
        raw = {"providers": {"s": {"provider": "groq", "api_key": "sk-settings-key-0003",
                                   "custom_host": upstream.url + "/v1"}}}  # fmt: skip
        gw = ServerThread(lambda: create_app(parse_settings(raw, {}))).start()
        try:
            yield gw.url, upstream.url
        finally:
            gw.stop()


def clean(r: httpx.Response) -> None:
    text = r.text
    assert r.status_code < 500 or r.status_code in UPSTREAM_FAULTS, text[:500]
    assert "Traceback" not in text and PROVIDER_KEY not in text
    assert "sk-settings-key-0003" not in text
    if r.status_code >= 400 and r.headers.get("content-type", "").startswith("application/json"):
        err = r.json()["error"]
        assert set(err) == {"message", "type", "param", "code"} and err["message"]


@settings(settings.get_profile(PROFILE))
@given(body=BODY, provider=st.sampled_from(["groq", "openai"]))
def test_any_body_gets_a_clean_answer(target, body: bytes, provider: str) -> None:
    gw_url, upstream_url = target
    headers = {
        "content-type": "application/json",
        "authorization": f"Bearer {PROVIDER_KEY}",
        "x-portkey-provider": provider,
        "x-portkey-custom-host": upstream_url + "/v1",
    }
    r = httpx.post(gw_url + "/v1/responses", content=body, headers=headers, timeout=30)
    clean(r)
    if r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream"):
        events = strict.stream(r.content)
        assert events[-1]["type"] in (
            "response.completed",
            "response.incomplete",
            "response.failed",
        )
    elif r.status_code == 200:
        answer: dict[str, Any] = r.json()
        strict.response(answer)
        if answer["store"]:
            got = httpx.get(f"{gw_url}/v1/responses/{answer['id']}", headers=headers, timeout=30)
            assert got.json() == answer


@settings(settings.get_profile(PROFILE))
@given(rid=st.text(max_size=40), method=st.sampled_from(["GET", "DELETE"]), items=st.booleans())
def test_any_id_gets_a_clean_answer(target, rid: str, method: str, items: bool) -> None:
    gw_url, _ = target
    headers = {"authorization": f"Bearer {PROVIDER_KEY}", "x-portkey-provider": "groq"}
    path = "/v1/responses/" + quote(rid, safe="") + ("/input_items" if items else "")
    r = httpx.request(method, gw_url + path, headers=headers, timeout=30)
    clean(r)
    if r.status_code == 502:  # a path the responses routes do not take went to the
        assert r.json()["error"]["code"] == "upstream_unreachable"  # pass-through (groq)
        return
    assert r.status_code in (400, 404, 405), r.text  # never found: only ids of ours exist
