"""aiohttp's 404 and 405 answer in OpenAI's error shape, from routes (proxy/app.py
``add_fallback_routes``), on every kind of path."""

from __future__ import annotations

import httpx


def test_unknown_paths_are_404_in_openai_shape(make_gateway) -> None:
    gw = make_gateway()
    for method, path in [("GET", "/nope"), ("POST", "/"), ("DELETE", "/a/b/c"), ("PUT", "/v2/x")]:
        r = httpx.request(method, gw.url + path, timeout=5)
        assert r.status_code == 404, (method, path)
        err = r.json()["error"]
        assert err["message"] == f"no route for {method} {path}"
        assert set(err) >= {"message", "type", "param", "code"}


def test_a_known_path_with_another_method_is_405_naming_the_allowed_ones(make_gateway) -> None:
    gw = make_gateway()
    r = httpx.get(gw.url + "/v1/chat/completions", timeout=5)
    assert r.status_code == 405
    assert r.headers["Allow"] == "POST"
    assert r.json()["error"]["message"] == "method GET not allowed on /v1/chat/completions"
    r = httpx.post(gw.url + "/health", timeout=5)
    assert r.status_code == 405
    assert r.headers["Allow"] == "GET,HEAD"
    assert r.json()["error"]["type"] == "invalid_request_error"
    assert httpx.get(gw.url + "/health", timeout=5).status_code == 200
