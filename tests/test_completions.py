"""``POST /v1/completions`` through the real gateway, driven by the official openai SDK.

The mock speaks OpenAI's documented ``text_completion`` format; what reached it is compared
with what the client sent, and the access log must carry the usage the provider reported.
"""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from tests.cache.conftest import cache_config, chain
from tests.conftest import PROVIDER_KEY, openai_client


def test_a_completion_passes_through(gateway, mock_openai, logs) -> None:
    mock, upstream = mock_openai
    client = openai_client(gateway, upstream)
    r = client.completions.create(
        model="gpt-3.5-turbo-instruct", prompt="say hi", max_tokens=5, logit_bias={"50256": -100}
    )
    assert r.object == "text_completion" and r.id == "cmpl-mock789"
    assert r.choices[0].text == "echo: say hi" and r.choices[0].finish_reason == "stop"
    assert r.usage is not None and r.usage.total_tokens == 5
    sent = mock.requests[-1]
    assert sent["path"] == "/v1/completions"
    assert sent["json"] == {
        "model": "gpt-3.5-turbo-instruct",
        "prompt": "say hi",
        "max_tokens": 5,
        "logit_bias": {"50256": -100},
    }
    assert sent["headers"]["Authorization"] == f"Bearer {PROVIDER_KEY}"
    (line,) = [x for x in logs() if x.get("event") == "request"]
    assert line["endpoint"] == "completions" and line["status"] == 200
    assert (line["prompt_tokens"], line["completion_tokens"]) == (2, 3)


def test_a_streamed_completion_with_usage(gateway, mock_openai, logs) -> None:
    mock, upstream = mock_openai
    client = openai_client(gateway, upstream)
    stream = client.completions.create(
        model="gpt-3.5-turbo-instruct",
        prompt="one two three",
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert all(c.object == "text_completion" for c in chunks)
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "echo: one two three "
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == 3
    assert mock.requests[-1]["json"]["stream"] is True
    (line,) = [x for x in logs() if x.get("event") == "request"]
    assert line["stream"] is True and line["prompt_tokens"] == 3
    assert line["completion_tokens"] == 4 and "usage_estimated" not in line


def test_token_prompts_and_batches_reach_the_upstream_as_sent(gateway, mock_openai) -> None:
    mock, upstream = mock_openai
    client = openai_client(gateway, upstream)
    for prompt in ([1, 2, 3], [[1, 2], [3]], ["a", "b"], ""):
        client.completions.create(model="m", prompt=prompt)
        assert mock.requests[-1]["json"] == {"model": "m", "prompt": prompt}


def test_a_settings_slug_renames_the_model(make_gateway, mock_openai) -> None:
    mock, upstream = mock_openai
    gw = make_gateway(
        {
            "providers": {
                "inst": {
                    "provider": "openai",
                    "api_key": "sk-settings-key-0003",
                    "custom_host": upstream.url + "/v1",
                }
            }
        }
    )
    client = openai.OpenAI(api_key="unused", base_url=gw.url + "/v1", max_retries=0)
    r = client.completions.create(model="@inst/gpt-3.5-turbo-instruct", prompt="x")
    assert r.choices[0].text == "echo: x"
    sent = mock.requests[-1]
    assert sent["json"]["model"] == "gpt-3.5-turbo-instruct"
    assert sent["headers"]["Authorization"] == "Bearer sk-settings-key-0003"


def test_azure_deployment_url(gateway, mock_openai) -> None:
    mock, upstream = mock_openai
    client = openai.OpenAI(
        api_key=PROVIDER_KEY,
        base_url=gateway.url + "/v1",
        max_retries=0,
        default_headers={
            "x-portkey-provider": "azure-openai",
            "x-portkey-custom-host": upstream.url + "/openai",
            "x-portkey-azure-deployment-id": "instruct-dep",
        },
    )
    client.completions.create(model="gpt-35-turbo-instruct", prompt="hi")
    sent = mock.requests[-1]
    assert sent["path"] == "/openai/deployments/instruct-dep/completions"
    assert sent["query"] == {"api-version": "2024-10-21"}
    assert sent["headers"]["api-key"] == PROVIDER_KEY


@pytest.mark.parametrize("provider", ["anthropic", "google", "bedrock"])
def test_other_providers_get_a_clear_400(gateway, provider) -> None:
    client = openai.OpenAI(
        api_key=PROVIDER_KEY,
        base_url=gateway.url + "/v1",
        max_retries=0,
        default_headers={"x-portkey-provider": provider, "x-portkey-aws-region": "us-east-1"},
    )
    with pytest.raises(openai.BadRequestError) as ei:
        client.completions.create(model="m", prompt="hi")
    err = ei.value.response.json()["error"]
    assert err["code"] == "unsupported_endpoint" and provider in err["message"]


def test_upstream_errors_keep_their_status(gateway, mock_openai) -> None:
    _, upstream = mock_openai
    with pytest.raises(openai.RateLimitError):
        openai_client(gateway, upstream).completions.create(model="error-429", prompt="x")


@pytest.mark.parametrize(
    "body",
    [b"", b"[]", b'{"prompt": "no model"}', b'{"model": 5, "prompt": "x"}', b"{nope"],
)
def test_a_bad_head_is_a_400(gateway, body) -> None:
    r = httpx.post(
        gateway.url + "/v1/completions",
        content=body,
        headers={"x-portkey-provider": "openai", "authorization": f"Bearer {PROVIDER_KEY}"},
    )
    assert r.status_code == 400, r.text
    assert set(r.json()["error"]) == {"message", "type", "param", "code"}


def test_the_cache_answers_in_the_completions_format(make_gateway, mock_openai) -> None:
    mock, upstream = mock_openai
    gw = make_gateway({"middleware": chain()})
    client = openai_client(gw, upstream, x_portkey_config=cache_config(upstream))
    first = client.completions.with_raw_response.create(model="m", prompt="cache me")
    second = client.completions.with_raw_response.create(model="m", prompt="cache me")
    assert first.headers["x-portkey-cache-status"] == "MISS"
    assert second.headers["x-portkey-cache-status"] == "HIT"
    assert mock.calls == 1
    a, b = first.parse(), second.parse()
    assert b.object == "text_completion" and b.choices[0].text == a.choices[0].text
    assert b.usage == a.usage
    # a stream request is answered from the same entry, in completions chunks
    chunks = list(client.completions.create(model="m", prompt="cache me", stream=True))
    assert mock.calls == 1
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "echo: cache me"
    # and a streamed answer is stored too: the token prompt is part of the key
    list(client.completions.create(model="m", prompt=[5, 6], stream=True))
    hit = client.completions.with_raw_response.create(model="m", prompt=[5, 6])
    assert hit.headers["x-portkey-cache-status"] == "HIT" and mock.calls == 2
    assert hit.parse().choices[0].text == "echo: [5, 6] "


def _guarded(make_gateway):
    guardrails = {
        "guardrails": {
            "pii": {"checks": [{"id": "default.pii", "parameters": {"redact": True}}]},
            "no-word": {
                "checks": [
                    {
                        "id": "default.contains",
                        "parameters": {"words": ["forbidden"], "operator": "none"},
                    }
                ],
                "deny": True,
            },
        }
    }
    return make_gateway(
        {
            "middleware": [
                {"class": "middleware.logging:LoggingMiddleware"},
                {"class": "middleware.guardrails:GuardrailsMiddleware", "options": guardrails},
                {"class": "middleware.router:RouterMiddleware"},
            ]
        }
    )


def test_guardrails_read_the_prompt_as_a_user_message(make_gateway, mock_openai) -> None:
    mock, upstream = mock_openai
    gw = _guarded(make_gateway)
    cfg = json.dumps({"input_guardrails": ["pii"], "output_guardrails": ["no-word"]})
    client = openai_client(gw, upstream, x_portkey_config=cfg)
    raw = client.completions.with_raw_response.create(model="m", prompt="mail jane@example.com")
    sent = mock.requests[-1]["json"]["prompt"]
    assert "jane@example.com" not in sent and "[REDACTED_EMAIL]" in sent
    body = json.loads(raw.content)
    assert body["object"] == "text_completion" and "hook_results" in body
    assert "[REDACTED_EMAIL]" in body["choices"][0]["text"]
    # a list of prompts is redacted one by one, and stays a list
    client.completions.create(model="m", prompt=["a@example.com", "plain"])
    assert mock.requests[-1]["json"]["prompt"] == ["[REDACTED_EMAIL]", "plain"]
    # an output deny on the echoed prompt
    before = mock.calls
    with pytest.raises(openai.APIStatusError) as ei:
        client.completions.create(model="m", prompt="say forbidden")
    assert ei.value.status_code == 446 and mock.calls == before + 1
    chunks = list(client.completions.create(model="m", prompt="b@example.com ok", stream=True))
    text = "".join(c.choices[0].text for c in chunks if c.choices)
    assert "b@example.com" not in text and "[REDACTED_EMAIL]" in text


def test_a_stream_without_usage_is_estimated(gateway, mock_openai, logs) -> None:
    _, upstream = mock_openai
    client = openai_client(gateway, upstream)
    list(client.completions.create(model="m", prompt="count these words", stream=True))
    (line,) = [x for x in logs() if x.get("event") == "request"]
    assert line["usage_estimated"] is True
    assert line["prompt_tokens"] > 0 and line["completion_tokens"] > 0
