"""Threats on ``/v1/*`` pass-through, each written as the attacker's request.

The client picks the path, the query, the content type and a body the gateway never reads;
the provider picks the answer and its headers. None of it may move a request off the
target's host or out of its base path, carry the gateway's key to a host the client chose,
reach an internal or redirected URL, leak a credential back, or buy unbounded memory.
"""

from __future__ import annotations

import json
import os
import resource
import socket
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy.app import create_app
from proxy.settings import parse_settings
from tests.security.hostile import Hostile, bomb
from tests.security.sinks import Sink, start_sink
from tests.servers import ServerThread

KEY = "sk-test-provider-key-0001"
SETTINGS_KEY = "sk-settings-key-0003"
GATEWAY_KEY = "gw-test-key-0002"


@pytest.fixture(scope="module")
def hostile() -> Iterator[tuple[Hostile, ServerThread]]:
    h = Hostile()
    bomb()
    with ServerThread(h.app) as server:
        yield h, server


def raw_http(port: int, request_line: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    """Exact bytes on the wire: HTTP clients normalise ``..`` and escapes away."""
    lines = [request_line, "Host: 127.0.0.1", "Connection: close", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    data = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)  # no half-close: the server would take it for a client gone
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


ESCAPES = [
    "/v1/../internal/secret",
    "/v1/%2e%2e/%2e%2e/internal/secret",
    "/v1/files/..%2f..%2f..%2finternal/secret",
    "/v1/a%2f..%2f..%2finternal/secret",
    "/v1/%2F%2Finternal/secret",
    "/v1//internal/secret",
    "/v1/a/./../../../internal/secret",
    "/v1/a%5c..%5c..%5cinternal/secret",
    "/v1/http:%2f%2f127.0.0.1/internal/secret",
    "/%76%31/../internal/secret",
    "/v1/files?x=1#/../../internal/secret",  # a fragment: dropped by the server, contained
]


@pytest.mark.parametrize("path", ESCAPES)
def test_the_path_never_leaves_the_providers_base(gateway, path) -> None:
    sink, server = start_sink()
    try:
        headers = {
            "Authorization": f"Bearer {KEY}",
            "x-portkey-provider": "openai",
            "x-portkey-custom-host": server.url + "/tenant/v1",
        }
        answer = raw_http(gateway.port, f"POST {path} HTTP/1.1", headers, b"{}")
        status = int(answer.split(b" ", 2)[1])
        outside = [h["path"] for h in sink.hits if not h["path"].startswith("/tenant/v1/")]
        assert outside == []
        if "#" in path:
            assert status == 200 and [h["path"] for h in sink.hits] == ["/tenant/v1/files"]
        else:
            assert status in (400, 404), answer[:300]
            assert sink.hits == []
        assert KEY.encode() not in answer
    finally:
        server.stop()


def test_an_absolute_request_target_does_not_pick_the_host(gateway) -> None:
    legit, legit_server = start_sink()
    evil, evil_server = start_sink()
    try:
        headers = {
            "Authorization": f"Bearer {KEY}",
            "x-portkey-provider": "openai",
            "x-portkey-custom-host": legit_server.url + "/v1",
        }
        line = f"POST {evil_server.url}/v1/moderations HTTP/1.1"
        raw_http(gateway.port, line, headers, b'{"input": "x"}')
        assert evil.hits == []
        assert [h["path"] for h in legit.hits] == ["/v1/moderations"]
    finally:
        legit_server.stop()
        evil_server.stop()


@pytest.mark.parametrize("query", ["a=%0d%0aHost:%20evil", "u=http://169.254.169.254/", "x=@evil"])
def test_a_query_string_stays_a_query_string(gateway, sink, query) -> None:
    attacker, server = sink
    headers = {
        "authorization": f"Bearer {KEY}",
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": server.url + "/v1",
    }
    r = httpx.get(f"{gateway.url}/v1/files?{query}", headers=headers)
    assert r.status_code == 200
    (hit,) = attacker.hits
    assert hit["path"] == "/v1/files" and "evil" not in hit["headers"].get("Host", "")


def _settings(legit: str) -> dict[str, object]:
    return {
        "providers": {
            "prod": {"provider": "openai", "api_key": SETTINGS_KEY, "custom_host": legit + "/v1"},
            "azure": {"provider": "azure-openai", "api_key": SETTINGS_KEY, "resource_name": "x"},
        },
        "configs": {"ops": {"virtual_key": "prod"}},
    }


def test_settings_credentials_never_reach_a_client_chosen_host(make_gateway, sink) -> None:
    legit, legit_server = start_sink()
    attacker, server = sink
    try:
        gw = make_gateway(_settings(legit_server.url))
        host = {"x-portkey-custom-host": server.url + "/v1"}
        upload = {"files": {"file": ("a.wav", b"x" * 200_000)}, "data": {"model": "whisper-1"}}
        attempts = [
            ("json slug", "/v1/images/generations", host, {"json": {"model": "@prod/x"}}),
            ("json azure slug", "/v1/images/generations", host, {"json": {"model": "@azure/x"}}),
            ("config id", "/v1/audio/transcriptions", {**host, "x-portkey-config": "ops"}, upload),
            (
                "inline vk",
                "/v1/audio/transcriptions",
                {
                    "x-portkey-config": json.dumps(
                        {"virtual_key": "prod", "custom_host": server.url}
                    )
                },
                upload,
            ),
            ("get", "/v1/files", {**host, "x-portkey-config": "ops"}, {}),
        ]
        for name, path, headers, kw in attempts:
            r = httpx.request(
                "GET" if name == "get" else "POST", gw.url + path, headers=headers, **kw
            )
            assert r.status_code == 403, (name, r.text)
            assert r.json()["error"]["code"] == "credential_binding", name
        assert attacker.hits == [] and legit.hits == []
    finally:
        legit_server.stop()


@pytest.mark.parametrize(
    "host", ["http://169.254.169.254/v1", "http://[::ffff:169.254.169.254]/v1", "http://0.0.0.0/v1"]
)
def test_metadata_addresses_are_never_called(gateway, host) -> None:
    r = httpx.post(
        gateway.url + "/v1/audio/transcriptions",
        headers={
            "authorization": f"Bearer {KEY}",
            "x-portkey-provider": "openai",
            "x-portkey-custom-host": host,
        },
        files={"file": ("a.wav", b"x" * 1000)},
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "custom_host_forbidden"


def test_redirects_are_not_followed(gateway, hostile, sink) -> None:
    h, server = hostile
    attacker, sink_server = sink
    for case in (f"redirect307-{sink_server.port}", "redirect303"):
        r = httpx.post(
            gateway.url + "/v1/audio/transcriptions",
            headers={
                "authorization": f"Bearer {KEY}",
                "x-portkey-provider": "openai",
                "x-portkey-custom-host": f"{server.url}/{case}/v1",
            },
            files={"file": ("a.wav", b"x" * 100_000)},
        )
        assert r.status_code == 502, r.text
        assert "admin-token" not in r.text
    assert attacker.hits == [] and h.internal_hits == 0


def test_a_gzip_bomb_json_answer_is_counted_inflated(make_gateway, hostile) -> None:
    _, server = hostile
    gw = make_gateway({"upstream": {"max_response_bytes": 1024 * 1024}})
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    r = httpx.post(
        gw.url + "/v1/images/generations",
        headers={
            "authorization": f"Bearer {KEY}",
            "x-portkey-provider": "openai",
            "x-portkey-custom-host": f"{server.url}/gzip-bomb/v1",
        },
        json={"prompt": "x"},
    )
    assert r.status_code == 502 and r.json()["error"]["code"] == "upstream_too_large"
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 40, f"peak RSS grew {grown_mb:.0f} MB reading a 1 MiB-limited answer"


def test_a_streamed_answer_is_relayed_not_held(make_gateway, hostile) -> None:
    """52 MB of inflated bytes go to the client piece by piece; the gateway keeps none."""
    _, server = hostile
    gw = make_gateway()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    got = 0
    with httpx.stream(
        "POST",
        gw.url + "/v1/audio/speech",
        headers={
            "authorization": f"Bearer {KEY}",
            "x-portkey-provider": "openai",
            "x-portkey-custom-host": f"{server.url}/gzip-bomb-audio/v1",
        },
        json={"input": "x"},
    ) as r:
        assert r.status_code == 200 and "content-encoding" not in r.headers
        for piece in r.iter_raw():
            got += len(piece)
    assert got > 50 * 1024 * 1024
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 40, f"peak RSS grew {grown_mb:.0f} MB relaying a streamed answer"


def test_no_credential_goes_back_or_forward(make_gateway, sink) -> None:
    attacker, server = sink
    gw = make_gateway(
        {
            "middleware": [
                {"class": "middleware.auth:AuthMiddleware",
                 "options": {"keys": [{"key": GATEWAY_KEY, "name": "t"}]}},
                {"class": "middleware.router:RouterMiddleware"},
            ]
        }
    )  # fmt: skip
    r = httpx.post(
        gw.url + "/v1/batches",
        headers={
            "x-portkey-api-key": GATEWAY_KEY,
            "authorization": f"Bearer {KEY}",
            "x-portkey-provider": "openai",
            "x-portkey-custom-host": server.url + "/v1",
            "cookie": "sid=1",
            "proxy-authorization": "Basic eA==",
        },
        json={"input_file_id": "file-1"},
    )
    assert r.status_code == 200
    assert attacker.secrets_seen(GATEWAY_KEY, "sid=1", "Basic eA==") == []
    assert attacker.hits[0]["headers"]["Authorization"] == f"Bearer {KEY}"
    assert GATEWAY_KEY not in r.text and KEY not in str(r.headers)


# pieces an attacker strings together into a path: separators, dots, escapes, schemes
PIECES = st.sampled_from(
    ["..", ".", "/", "//", "%2f", "%2F", "%2e", "%5c", "\\", ":", "@", "http:", "a", "files",
     "internal", "secret", "%00", ";", "?", "#", "%3f", "~", "127.0.0.1", "%252f", "$"]
)  # fmt: skip
FUZZ_EXAMPLES = 3000 if os.environ.get("HYPOTHESIS_PROFILE") == "long" else 150


@pytest.fixture(scope="module")
def contained() -> Iterator[tuple[Sink, ServerThread, ServerThread]]:
    attacker, server = start_sink()
    gw = ServerThread(lambda: create_app(parse_settings({}, {}))).start()
    try:
        yield attacker, server, gw
    finally:
        gw.stop()
        server.stop()


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(pieces=st.lists(PIECES, min_size=1, max_size=8))
def test_any_path_stays_under_the_base(contained, pieces) -> None:
    attacker, server, gw = contained
    headers = {
        "Authorization": f"Bearer {KEY}",
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": server.url + "/tenant/v1",
    }
    answer = raw_http(gw.port, f"POST /v1/{''.join(pieces)} HTTP/1.1", headers, b"{}")
    status = int(answer.split(b" ", 2)[1])
    assert status < 500, answer[:300]
    assert all(h["path"].startswith("/tenant/v1/") for h in attacker.hits), attacker.hits[-1:]
    assert all(".." not in h["path"].split("/") for h in attacker.hits)


def test_the_gateways_key_is_not_a_handle_on_the_account(make_gateway, sink) -> None:
    """The operator's key, set up for chat, cannot list, read or delete the account's files."""
    provider_host, server = sink
    entry = {"provider": "openai", "api_key": SETTINGS_KEY, "custom_host": server.url + "/v1"}
    gw = make_gateway({"providers": {"prod": entry}, "default_config": {"virtual_key": "prod"}})
    for method, path in [
        ("GET", "/v1/files"),
        ("GET", "/v1/files/file-abc/content"),
        ("DELETE", "/v1/files/file-abc"),
        ("POST", "/v1/fine_tuning/jobs"),
        ("GET", "/v1/batches"),
    ]:
        r = httpx.request(
            method, gw.url + path, json={"model": "@prod/x"} if method == "POST" else None
        )
        assert r.status_code == 403, (path, r.text)
        assert r.json()["error"]["code"] == "passthrough_forbidden"
    assert provider_host.hits == []
