"""x-gateway-overhead-ms: the gateway's own time, without the upstream's, on every reply."""

from __future__ import annotations

import time

import httpx
import openai
import pytest

from tests.conftest import openai_client
from tests.observability.helpers import SlowUpstream, access_lines
from tests.observability.test_metrics import HELLO, MODEL, chain
from tests.servers import ServerThread

DELAY = 0.3  # the upstream's own time; the gateway's must stay far below it


@pytest.fixture
def slow():
    up = SlowUpstream(DELAY)
    with ServerThread(up.app) as server:
        yield up, server


def overhead(headers: httpx.Headers) -> float:
    return float(headers["x-gateway-overhead-ms"])


def test_json_reply_excludes_upstream_time(make_gateway, slow, logs) -> None:
    _, upstream = slow
    gw = make_gateway({"middleware": chain()})
    client = openai_client(gw, upstream)
    t0 = time.perf_counter()
    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=HELLO)
    total_ms = (time.perf_counter() - t0) * 1000
    assert raw.parse().choices[0].message.content == "slow answer"
    ms = overhead(raw.headers)
    assert total_ms >= DELAY * 1000
    assert 0 <= ms < 100  # without subtracting the upstream it would be >= 300
    line = access_lines(logs())[-1]
    assert line["upstream_ms"] >= DELAY * 1000
    assert line["overhead_ms"] < 100


def test_stream_header_is_time_to_first_chunk_less_upstream(make_gateway, slow) -> None:
    _, upstream = slow
    gw = make_gateway({"middleware": chain()})
    client = openai_client(gw, upstream)
    with client.chat.completions.with_streaming_response.create(
        model=MODEL, messages=HELLO, stream=True
    ) as resp:
        ms = overhead(resp.headers)
        text = "".join(c.choices[0].delta.content or "" for c in resp.parse() if c.choices)
    assert text == "slow answer"
    assert 0 <= ms < 100


def test_errors_carry_the_header_too(make_gateway, mock_openai) -> None:
    _, upstream = mock_openai
    gw = make_gateway({"middleware": chain()})
    client = openai_client(gw, upstream)
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model="error-500", messages=HELLO)
    assert 0 <= overhead(info.value.response.headers) < 100
    # failed before a context exists (body is not JSON)
    r = httpx.post(gw.url + "/v1/chat/completions", content=b"{nope", timeout=5)
    assert r.status_code == 400
    assert 0 <= overhead(r.headers) < 100
