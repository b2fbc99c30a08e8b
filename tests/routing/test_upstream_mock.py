"""The scripted upstream speaks OpenAI's wire format: the official SDK reads it directly."""

from __future__ import annotations

import openai
import pytest

from tests.conftest import PROVIDER_KEY
from tests.routing.conftest import MESSAGES


def test_official_sdk_reads_the_scripted_upstream(upstream) -> None:
    up = upstream(("status", 429, {"retry-after-ms": "10"}), "ok", "ok", name="mock")
    sdk = openai.OpenAI(api_key=PROVIDER_KEY, base_url=up.server.url + "/v1", max_retries=0)
    with pytest.raises(openai.RateLimitError) as info:
        sdk.chat.completions.create(model="m", messages=MESSAGES)
    assert info.value.body["code"] == "scripted_429"
    assert info.value.response.headers["retry-after-ms"] == "10"
    answer = sdk.chat.completions.create(model="m", messages=MESSAGES)
    assert answer.choices[0].message.content == "mock: hello"
    assert answer.usage is not None and answer.usage.total_tokens > 0
    chunks = list(sdk.chat.completions.create(model="m", messages=MESSAGES, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip() == "mock: hello"
    assert chunks[-1].choices[0].finish_reason == "stop"
