"""Every error a client can get: OpenAI's shape, the right status, no secret, no traceback."""

from __future__ import annotations

import gzip
import json
from typing import Any

import aiohttp
import openai
import pytest

from tests.conftest import PROVIDER_KEY, openai_client
from tests.servers import free_port


async def post(url: str, body: bytes | Any, headers: dict[str, str] | None = None) -> tuple:
    h = {"content-type": "application/json", **(headers or {})}
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with (
        aiohttp.ClientSession() as s,
        s.post(url + "/v1/chat/completions", data=data, headers=h) as resp,
    ):
        return resp.status, await resp.json(), resp.headers


def assert_openai_error(body: dict[str, Any], type_: str | None = None) -> dict[str, Any]:
    err = body["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert isinstance(err["message"], str) and err["message"]
    assert "Traceback" not in err["message"] and PROVIDER_KEY not in err["message"]
    if type_:
        assert err["type"] == type_
    return err


GOOD = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
OPENAI = {"x-portkey-provider": "openai", "authorization": f"Bearer {PROVIDER_KEY}"}


@pytest.mark.parametrize(
    ("body", "param", "fragment"),
    [
        (b"{not json", None, "not valid JSON"),
        (b"", None, "empty"),
        (b"[1, 2]", None, "Expected `object`"),
        ({"messages": [{"role": "user", "content": "x"}]}, "model", "required"),
        ({"model": "m"}, "messages", "required"),
        ({"model": "m", "messages": []}, "messages", "at least one"),
        ({"model": "m", "messages": ["hi"]}, "messages[0]", "object"),
        ({"model": 5, "messages": GOOD["messages"]}, "model", "Expected `str`"),
        ({**GOOD, "stream": "sometimes"}, "stream", "Expected"),
    ],
)
async def test_bad_bodies_are_400_naming_the_field(gateway, body, param, fragment) -> None:
    """What the gateway itself reads (the head) is checked for every provider."""
    status, resp, _ = await post(gateway.url, body, OPENAI)
    assert status == 400
    err = assert_openai_error(resp, "invalid_request_error")
    if param is not None:
        assert err["param"] is not None and err["param"].startswith(param), err
    assert fragment in err["message"]


ANTHROPIC = {"x-portkey-provider": "anthropic", "authorization": f"Bearer {PROVIDER_KEY}"}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "m", "messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        ({"model": "m", "messages": [{"content": "x"}]}, "messages[0]"),
        ({**GOOD, "temperature": "hot"}, "temperature"),
        (
            {"model": "m", "messages": [{"role": "user", "content": [{"type": "video"}]}]},
            "messages[0].content",
        ),
    ],
)
async def test_what_a_translating_provider_cannot_carry_is_400_naming_it(
    gateway, body, param
) -> None:
    """The rest of the body is the provider's: a translating adapter names the field and
    itself (an OpenAI-compatible provider gets it as sent: tests/test_forward_compat.py)."""
    status, resp, _ = await post(gateway.url, body, ANTHROPIC)
    assert status == 400
    err = assert_openai_error(resp, "invalid_request_error")
    assert err["param"] is not None and err["param"].startswith(param), err
    assert err["code"] == "unsupported_by_provider"
    assert "anthropic" in err["message"]


async def test_missing_provider_is_400(gateway) -> None:
    status, body, headers = await post(gateway.url, GOOD)
    assert status == 400
    err = assert_openai_error(body, "invalid_request_error")
    assert err["param"] == "x-portkey-provider" and err["code"] == "missing_provider"
    assert headers["x-portkey-trace-id"]


async def test_unknown_provider_is_400(gateway) -> None:
    status, body, _ = await post(gateway.url, GOOD, {"x-portkey-provider": "nope"})
    assert status == 400
    assert assert_openai_error(body)["code"] == "unknown_provider"
    status, body, _ = await post(gateway.url, {**GOOD, "model": "@nope/m"})
    assert status == 400 and assert_openai_error(body)["param"] == "model"


async def test_missing_provider_key_is_401(gateway) -> None:
    status, body, _ = await post(gateway.url, GOOD, {"x-portkey-provider": "openai"})
    assert status == 401
    assert assert_openai_error(body, "authentication_error")["code"] == "missing_api_key"


async def test_body_over_limit_is_413(make_gateway) -> None:
    gw = make_gateway({"server": {"max_body_bytes": 2048}})
    big = {**GOOD, "messages": [{"role": "user", "content": "x" * 5000}]}
    status, body, _ = await post(gw.url, big, OPENAI)
    assert status == 413
    assert assert_openai_error(body)["code"] == "body_too_large"


async def test_body_limit_holds_without_content_length(make_gateway) -> None:
    """A chunked body, and a gzip one (its decompressed bytes count), are held to the limit
    as they are read; one under it is read whole, in pieces or compressed."""
    gw = make_gateway({"server": {"max_body_bytes": 2048}})
    url = gw.url + "/v1/chat/completions"
    nope = {"content-type": "application/json", "x-portkey-provider": "nope"}

    def body(n: int) -> bytes:
        return json.dumps({**GOOD, "messages": [{"role": "user", "content": "x" * n}]}).encode()

    async def pieces(raw: bytes) -> Any:
        for i in range(0, len(raw), 500):
            yield raw[i : i + 500]

    cases = [
        (pieces(body(5000)), {}, 413),
        (gzip.compress(body(50_000)), {"content-encoding": "gzip"}, 413),
        (pieces(body(1500)), {}, 400),  # read whole: the provider is what is wrong
        (gzip.compress(body(1500)), {"content-encoding": "gzip"}, 400),
    ]
    async with aiohttp.ClientSession() as s:
        for data, extra, expected in cases:
            async with s.post(url, data=data, headers={**nope, **extra}) as r:
                assert r.status == expected
                code = assert_openai_error(await r.json())["code"]
                assert code == ("body_too_large" if expected == 413 else "unknown_provider")


@pytest.mark.parametrize(
    ("model", "status", "exc"),
    [
        ("error-400", 400, openai.BadRequestError),
        ("error-401", 401, openai.AuthenticationError),
        ("error-403", 403, openai.PermissionDeniedError),
        ("error-404", 404, openai.NotFoundError),
        ("error-429", 429, openai.RateLimitError),
        ("error-500", 500, openai.InternalServerError),
        ("error-503", 503, openai.InternalServerError),
    ],
)
def test_upstream_errors_relayed_with_status(gateway, mock_openai, model, status, exc) -> None:
    _, upstream = mock_openai
    client = openai_client(gateway, upstream)
    with pytest.raises(exc) as info:
        client.chat.completions.create(model=model, messages=GOOD["messages"])
    assert info.value.status_code == status
    body = info.value.body
    assert isinstance(body, dict) and f"mock failure {status}" in body["message"]
    assert body["code"] == f"mock_{status}"
    if status == 429:
        assert info.value.response.headers["retry-after"] == "1"


def test_upstream_non_json_error_is_normalised(gateway, mock_openai) -> None:
    _, upstream = mock_openai
    with pytest.raises(openai.InternalServerError) as info:
        openai_client(gateway, upstream).chat.completions.create(
            model="garbage", messages=GOOD["messages"]
        )
    body = info.value.body
    assert isinstance(body, dict) and body["type"] == "api_error"
    assert "bad gateway" in body["message"]


async def test_unreachable_upstream_is_502(gateway) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    status, body, _ = await post(gateway.url, GOOD, {**OPENAI, "x-portkey-custom-host": dead})
    assert status == 502
    err = assert_openai_error(body, "api_connection_error")
    assert err["code"] == "upstream_unreachable"


async def test_upstream_timeout_is_504(make_gateway, mock_openai) -> None:
    _, upstream = mock_openai
    gw = make_gateway({"upstream": {"read_timeout": 0.3}})
    headers = {**OPENAI, "x-portkey-custom-host": upstream.url + "/v1"}
    status, body, _ = await post(gw.url, {**GOOD, "model": "hang"}, headers)
    assert status == 504
    assert_openai_error(body, "timeout_error")
    # a per-request timeout header bounds it too, and ends as Portkey's 408
    status, body, _ = await post(
        gw.url, {**GOOD, "model": "hang"}, {**headers, "x-portkey-request-timeout": "200"}
    )
    assert status == 408
    assert_openai_error(body, "timeout_error")


async def test_custom_host_allowlist_403(make_gateway, mock_openai) -> None:
    _, upstream = mock_openai
    gw = make_gateway({"custom_hosts": {"allow": ["api.internal.example", "10.0.0.0/8"]}})
    headers = {**OPENAI, "x-portkey-custom-host": upstream.url + "/v1"}
    status, body, _ = await post(gw.url, GOOD, headers)
    assert status == 403
    assert assert_openai_error(body, "permission_error")["code"] == "custom_host_forbidden"
    ok = make_gateway({"custom_hosts": {"allow": ["127.0.0.0/8"]}})
    status, _, _ = await post(ok.url, GOOD, headers)
    assert status == 200


async def test_custom_host_must_be_http_url(gateway) -> None:
    status, body, _ = await post(
        gateway.url, GOOD, {**OPENAI, "x-portkey-custom-host": "file:///etc/passwd"}
    )
    assert status == 400 and assert_openai_error(body)["code"] == "invalid_custom_host"


async def test_bad_metadata_header_is_400(gateway) -> None:
    status, body, _ = await post(gateway.url, GOOD, {**OPENAI, "x-portkey-metadata": "[1]"})
    assert status == 400 and assert_openai_error(body)["param"] == "x-portkey-metadata"


async def test_unknown_route_and_method_in_openai_shape(gateway) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.get(gateway.url + "/nothing") as resp:
            assert resp.status == 404
            assert_openai_error(await resp.json(), "not_found_error")
        async with s.options(gateway.url + "/v1/chat/completions") as resp:
            assert resp.status == 405
            assert_openai_error(await resp.json())
        # any other /v1 path is the pass-through's, which needs a provider
        async with s.get(gateway.url + "/v1/nothing") as resp:
            assert resp.status == 400
            assert assert_openai_error(await resp.json())["code"] == "missing_provider"
