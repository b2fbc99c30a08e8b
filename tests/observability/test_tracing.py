"""OpenTelemetry spans (in-memory exporter) of real requests, and W3C traceparent propagation."""

from __future__ import annotations

import json
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from proxy.app import GATEWAY
from tests.conftest import PROVIDER_KEY, openai_client
from tests.observability.test_metrics import HELLO, MODEL, chain
from tests.servers import ServerThread

TRACE = "0af7651916cd43dd8448eb211c80319c"
PARENT = "b7ad6b7169203331"
TRACEPARENT = f"00-{TRACE}-{PARENT}-01"


def traced(make_gateway: Any) -> tuple[ServerThread, Any]:
    gw = make_gateway({"middleware": chain(), "observability": {"otel_exporter": "memory"}})
    assert gw.app is not None
    tracing = gw.app[GATEWAY].observability.tracing
    assert tracing is not None
    return gw, tracing.exporter


def by_name(spans: list[ReadableSpan]) -> dict[str, list[ReadableSpan]]:
    out: dict[str, list[ReadableSpan]] = {}
    for s in spans:
        out.setdefault(s.name, []).append(s)
    return out


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def test_span_tree_and_traceparent_upstream(make_gateway, mock_openai) -> None:
    mock, upstream = mock_openai
    gw, exporter = traced(make_gateway)
    client = openai_client(gw, upstream, traceparent=TRACEPARENT, x_portkey_trace_id="my-trace")
    client.chat.completions.create(model=MODEL, messages=HELLO)

    spans = exporter.get_finished_spans()
    names = by_name(spans)
    assert all(s.context.trace_id == int(TRACE, 16) for s in spans)
    root = next(s for s in names[f"chat {MODEL}"] if s.kind == SpanKind.SERVER)
    attempt = next(s for s in names[f"chat {MODEL}"] if s.kind == SpanKind.CLIENT)
    logging_span = names["middleware LoggingMiddleware"][0]
    obs_span = names["middleware ObservabilityMiddleware"][0]
    router = names["middleware RouterMiddleware"][0]
    assert len(spans) == 5
    # the tree: client's span -> request -> each middleware in order -> the upstream attempt
    assert parent_of(root) == int(PARENT, 16)
    assert parent_of(logging_span) == root.context.span_id
    assert parent_of(obs_span) == logging_span.context.span_id
    assert parent_of(router) == obs_span.context.span_id
    assert parent_of(attempt) == router.context.span_id
    # the upstream saw the attempt's span as its parent
    sent = mock.requests[0]["headers"]["traceparent"]
    assert sent == f"00-{TRACE}-{attempt.context.span_id:016x}-01"
    # GenAI semantic-convention attributes and the Portkey trace id
    a = dict(root.attributes or {})
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.request.model"] == MODEL
    assert a["gen_ai.system"] == "openai"
    assert a["gen_ai.usage.input_tokens"] == 2
    assert a["gen_ai.usage.output_tokens"] == 3
    assert a["portkey.trace_id"] == "my-trace"
    assert a["http.response.status_code"] == 200
    assert a["gateway.cost_usd"] > 0
    assert dict(attempt.attributes or {})["gen_ai.system"] == "openai"
    assert attempt.end_time is not None and root.end_time is not None
    assert root.start_time <= attempt.start_time and attempt.end_time <= root.end_time


def test_stream_spans_last_until_the_stream_ends(make_gateway, mock_openai) -> None:
    _, upstream = mock_openai
    gw, exporter = traced(make_gateway)
    client = openai_client(gw, upstream)
    with client.chat.completions.create(model=MODEL, messages=HELLO, stream=True) as s:
        text = "".join(c.choices[0].delta.content or "" for c in s if c.choices)
    assert text == "echo: hello there"
    spans = by_name(exporter.get_finished_spans())
    root = next(s for s in spans[f"chat {MODEL}"] if s.kind == SpanKind.SERVER)
    attempt = next(s for s in spans[f"chat {MODEL}"] if s.kind == SpanKind.CLIENT)
    router = spans["middleware RouterMiddleware"][0]
    a = dict(root.attributes or {})
    assert root.parent is None  # no traceparent from the client: a new trace
    assert "gateway.usage_estimated" not in a  # the gateway asked OpenAI for the usage
    assert a["gen_ai.usage.output_tokens"] == 3
    assert a["gateway.stream"] is True
    # the middleware span covers its own part; the request and attempt spans the stream
    assert attempt.end_time is not None and router.end_time is not None
    assert attempt.end_time >= router.end_time
    assert root.end_time is not None and root.end_time >= attempt.end_time


def test_one_span_per_attempt_on_fallback(make_gateway, mock_openai) -> None:
    mock, upstream = mock_openai
    gw, exporter = traced(make_gateway)
    target = {"provider": "openai", "api_key": PROVIDER_KEY, "custom_host": upstream.url + "/v1"}
    config = {
        "strategy": {"mode": "fallback"},
        "targets": [{**target, "override_params": {"model": "error-500"}}, target],
    }
    client = openai_client(gw, None, x_portkey_config=json.dumps(config))
    client.chat.completions.create(model=MODEL, messages=HELLO)
    spans = exporter.get_finished_spans()
    attempts = sorted(
        (s for s in spans if s.kind == SpanKind.CLIENT), key=lambda s: s.start_time or 0
    )
    router = by_name(spans)["middleware RouterMiddleware"][0]
    assert [dict(s.attributes or {})["http.response.status_code"] for s in attempts] == [500, 200]
    assert [dict(s.attributes or {})["gateway.target_index"] for s in attempts] == [
        "config.targets[0]",
        "config.targets[1]",
    ]
    assert attempts[0].status.status_code == StatusCode.ERROR
    assert all(parent_of(s) == router.context.span_id for s in attempts)
    # each attempt sent its own span id upstream, in the same trace
    sent = [r["headers"]["traceparent"] for r in mock.requests]
    assert sent == [
        f"00-{s.context.trace_id:032x}-{s.context.span_id:016x}-{s.context.trace_flags:02x}"
        for s in attempts
    ]


def test_traceparent_passes_through_when_tracing_is_off(make_gateway, mock_openai) -> None:
    mock, upstream = mock_openai
    gw = make_gateway({"middleware": chain()})
    assert gw.app is not None and gw.app[GATEWAY].observability.tracing is None
    client = openai_client(gw, upstream, traceparent=TRACEPARENT, tracestate="vendor=1")
    client.chat.completions.create(model=MODEL, messages=HELLO)
    headers = mock.requests[0]["headers"]
    assert headers["traceparent"] == TRACEPARENT
    assert headers["tracestate"] == "vendor=1"
    client = openai_client(gw, upstream)
    client.chat.completions.create(model=MODEL, messages=HELLO)
    assert "traceparent" not in mock.requests[1]["headers"]


class Collector:
    """An OTLP/HTTP collector: decodes each protobuf export request it receives."""

    def __init__(self) -> None:
        self.spans: list[Any] = []
        self.headers: list[dict[str, str]] = []

    def app(self) -> Any:
        from aiohttp import web

        async def traces(request: web.Request) -> web.Response:
            from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
                ExportTraceServiceRequest,
            )

            req = ExportTraceServiceRequest()
            req.ParseFromString(await request.read())
            self.headers.append(dict(request.headers))
            for rs in req.resource_spans:
                for ss in rs.scope_spans:
                    self.spans.extend(ss.spans)
            return web.Response(body=b"", content_type="application/x-protobuf")

        app = web.Application()
        app.router.add_post("/v1/traces", traces)
        return app


def test_otlp_http_export_reaches_a_collector(make_gateway, mock_openai) -> None:
    _, upstream = mock_openai
    collector = Collector()
    with ServerThread(collector.app) as col:
        obs = {
            "otel_endpoint": col.url + "/v1/traces",
            "otel_headers": {"x-collector-team": "gw"},
        }
        gw = make_gateway({"middleware": chain(), "observability": obs})
        openai_client(gw, upstream).chat.completions.create(model=MODEL, messages=HELLO)
        assert gw.app is not None
        tracing = gw.app[GATEWAY].observability.tracing
        assert tracing.provider.force_flush(5000)  # what shut-down does; the batch waits 5 s
        names = sorted(s.name for s in collector.spans)
    assert names.count(f"chat {MODEL}") == 2  # request (SERVER) and attempt (CLIENT)
    assert "middleware RouterMiddleware" in names
    assert collector.headers[0]["x-collector-team"] == "gw"
    root = next(s for s in collector.spans if s.kind == s.SPAN_KIND_SERVER)
    attrs = {a.key: a.value for a in root.attributes}
    assert attrs["gen_ai.system"].string_value == "openai"
    assert attrs["gen_ai.usage.output_tokens"].int_value == 3
