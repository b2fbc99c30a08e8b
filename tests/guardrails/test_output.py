"""Output guardrails on answers and streams, through the real gateway and the openai SDK."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from tests.conftest import PROVIDER_KEY
from tests.guardrails.conftest import Env, guard


def _stream_text(client: openai.OpenAI, text: str, **kw: object) -> str:
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": text}], stream=True, **kw
    )
    return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)


def test_output_deny_is_446_after_one_upstream_call(env: Env) -> None:
    before = env.mock.calls
    cfg = {"output_guardrails": [guard("default.contains", {"words": ["secret"]}, deny=True)]}
    with pytest.raises(openai.APIStatusError) as ei:
        env.chat("nothing here", cfg)
    assert ei.value.status_code == 446
    body = ei.value.response.json()
    assert body["error"]["type"] == "hooks_failed"
    assert body["hook_results"]["before_request_hooks"] == []
    (hook,) = body["hook_results"]["after_request_hooks"]
    assert hook["verdict"] is False and hook["deny"] is True
    assert "choices" not in body  # the answer is withheld
    assert env.mock.calls == before + 1


def test_output_failure_without_deny_is_246(env: Env) -> None:
    cfg = {"output_guardrails": [guard("default.wordCount", {"maxWords": 2})]}
    status, body = env.chat("three words here", cfg)
    assert status == 246
    assert body["choices"][0]["message"]["content"] == "echo: three words here"
    (hook,) = body["hook_results"]["after_request_hooks"]
    assert hook["checks"][0]["data"]["count"] == 4 and hook["verdict"] is False
    # the SDK accepts a 2xx answer with the extra field
    r = env.client(cfg).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "three words here"}]
    )
    assert r.choices[0].message.content == "echo: three words here"
    assert r.model_extra is not None and "hook_results" in r.model_extra


def test_input_and_output_results_together(env: Env) -> None:
    cfg = {
        "input_guardrails": [guard("default.notNull", deny=True)],
        "after_request_hooks": [guard("default.endsWith", {"suffix": "done"})],
    }
    status, body = env.chat("all done", cfg)
    assert status == 200
    hr = body["hook_results"]
    assert hr["before_request_hooks"][0]["verdict"] and hr["after_request_hooks"][0]["verdict"]


def test_output_pii_redaction(env: Env) -> None:
    cfg = {"output_guardrails": ["pii-redact"]}
    status, body = env.chat("reach me on 192.168.10.20 or ssn 123-45-6789", cfg)
    assert status == 200
    content = body["choices"][0]["message"]["content"]
    assert content == "echo: reach me on [REDACTED_IP_ADDRESS] or ssn [REDACTED_SSN]"


def test_json_schema_on_output(env: Env) -> None:
    schema = {
        "type": "object",
        "required": ["name", "age"],
        "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
    }
    cfg = {"output_guardrails": [guard("default.jsonSchema", {"schema": schema}, deny=True)]}
    status, _ = env.chat('{"name": "Zoë", "age": 7}', cfg)  # echo: {...}: JSON inside text
    assert status == 200
    with pytest.raises(openai.APIStatusError) as ei:
        env.chat('{"name": "Zoë", "age": -1}', cfg)
    check = ei.value.response.json()["hook_results"]["after_request_hooks"][0]["checks"][0]
    assert check["data"]["errors"] == ["$.age: -1 is less than the minimum of 0"]
    keys = {
        "output_guardrails": [guard("default.jsonKeys", {"keys": ["a", "b"], "operator": "all"})]
    }
    assert env.chat('{"a": 1, "b": 2}', keys)[0] == 200
    assert env.chat('{"a": 1}', keys)[0] == 246


def test_stream_deny_is_446_before_any_byte(env: Env) -> None:
    cfg = {"output_guardrails": [guard("default.contains", {"words": ["bad"]}, deny=True)]}
    with pytest.raises(openai.APIStatusError) as ei:
        _stream_text(env.client(cfg), "all good")
    assert ei.value.status_code == 446
    assert ei.value.response.json()["hook_results"]["after_request_hooks"][0]["deny"] is True


def test_stream_with_passing_deny_guardrail_replays_the_chunks(env: Env) -> None:
    cfg = {"output_guardrails": [guard("default.contains", {"words": ["good"]}, deny=True)]}
    client = env.client(cfg)
    assert _stream_text(client, "all good here") == "echo: all good here"
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "good one"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert len(chunks) == 6  # role, "echo: ", "good ", "one", finish, usage: unchanged
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0


def test_stream_soft_failure_is_246(env: Env) -> None:
    cfg = {
        "output_guardrails": [
            guard("default.contains", {"words": ["echo"]}, deny=True),
            guard("default.wordCount", {"maxWords": 1}),
        ]
    }
    with httpx.stream(
        "POST",
        env.gateway.url + "/v1/chat/completions",
        headers={
            "authorization": f"Bearer {PROVIDER_KEY}",
            "x-portkey-provider": "openai",
            "x-portkey-custom-host": env.upstream.url + "/v1",
            "x-portkey-config": json.dumps(cfg),
        },
        json={"model": "m", "stream": True, "messages": [{"role": "user", "content": "a b"}]},
    ) as r:
        body = r.read().decode()
    assert r.status_code == 246
    assert body.rstrip().endswith("data: [DONE]")


def test_stream_redaction_across_chunk_boundaries(env: Env) -> None:
    cfg = {"output_guardrails": ["pii-redact"]}
    # "|" is where the upstream breaks its chunks: the email and card are cut in pieces
    text = "mail jane.do|e@exam|ple.com and pay 4111 11|11 1111 1111 tomorrow"
    out = _stream_text(env.client(cfg, split=True), text)
    assert out == "mail [REDACTED_EMAIL] and pay [REDACTED_CREDIT_CARD] tomorrow"


def test_long_stream_is_released_progressively_and_redacted_whole(env: Env) -> None:
    cfg = {"output_guardrails": ["pii-redact"]}
    filler = " ".join(f"word{i}" for i in range(60))
    text = f"{filler}|{filler} mail jane.do|e@exam|ple.com |{filler}|{filler} end"
    stream = env.client(cfg, split=True).chat.completions.create(
        model="m", messages=[{"role": "user", "content": text}], stream=True
    )
    pieces = [c.choices[0].delta.content or "" for c in stream if c.choices]
    out = "".join(pieces)
    assert out == f"{filler}{filler} mail [REDACTED_EMAIL] {filler}{filler} end"
    # text flowed before the end of the stream: only a short tail was held back
    first_text = next(i for i, p in enumerate(pieces) if p)
    assert first_text < len(pieces) - 2
    assert "jane" not in out


def test_stream_redaction_in_buffered_mode(env: Env) -> None:
    cfg = {
        "output_guardrails": [
            guard("default.pii", {"redact": True}),
            guard("default.notNull", deny=True),
        ]
    }
    out = _stream_text(env.client(cfg, split=True), "call 555-867-|5309 now")
    assert out == "call [REDACTED_PHONE] now"


def test_stream_secret_block_held_until_complete(env: Env) -> None:
    cfg = {"output_guardrails": [guard("default.secrets", {"redact": True})]}
    block = (
        "-----BEGIN PRIVATE KEY-----|\nMIIEvQIBADANBg|kqhkiG9w0BAQEFAASC\n|"
        + "A" * 300
        + "|\n-----END PRIVATE KEY-----"
    )
    out = _stream_text(env.client(cfg, split=True), f"here: {block} bye")
    assert out == "here: [REDACTED_PRIVATE_KEY] bye"


def test_stream_results_on_last_chunk_when_asked(env: Env) -> None:
    cfg = {
        "input_guardrails": [guard("default.notNull")],
        "output_guardrails": [guard("default.wordCount", {"maxWords": 10})],
    }
    client = env.client(cfg, x_portkey_strict_open_ai_compliance="false")
    chunks = list(
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True
        )
    )
    extra = chunks[-1].model_extra or {}
    hr = extra["hook_results"]
    assert hr["before_request_hooks"][0]["verdict"] is True
    assert hr["after_request_hooks"][0]["checks"][0]["data"]["count"] == 2
    assert all("hook_results" not in (c.model_extra or {}) for c in chunks[:-1])


def test_stream_results_logged_without_holding_the_stream(env: Env, logs) -> None:
    import time

    cfg = {"output_guardrails": [guard("default.wordCount", {"maxWords": 1})]}
    assert _stream_text(env.client(cfg), "several words") == "echo: several words"
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        lines = [x for x in logs() if x.get("event") == "guardrails" and x["phase"] == "output"]
        if lines:
            break
        time.sleep(0.02)
    assert lines and lines[-1]["verdict"] is False


def test_buffered_stream_over_the_size_cap(env_factory) -> None:
    e = env_factory(max_text_chars=1000)
    words = " ".join(f"w{i}" for i in range(400))  # ~2 000 characters, over the cap
    deny_text = {"output_guardrails": [guard("default.notNull", deny=True)]}
    with pytest.raises(openai.APIStatusError) as ei:
        _stream_text(e.client(deny_text), words)
    check = ei.value.response.json()["hook_results"]["after_request_hooks"][0]["checks"][0]
    assert "not checked" in check["data"]["explanation"]
    # a deny guardrail that does not read the text lets the whole stream through
    by_model = {
        "output_guardrails": [
            guard("default.modelWhitelist", {"models": ["gpt-4o-mini"]}, deny=True)
        ]
    }
    assert _stream_text(e.client(by_model), words) == f"echo: {words}"
