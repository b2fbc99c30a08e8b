"""The response store: bounded in memory, shared in Redis, and an outage is never a 500.

Redis tests use the real server (db 11, a prefix of their own per test); in CI a missing
Redis fails them (tests/conftest.py ``redis_url``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from typing import Any

import openai
import pytest
import redis

from proxy.app import create_app
from proxy.frontdoors.responses import store as store_mod
from proxy.frontdoors.responses.settings import ResponsesSettings
from proxy.frontdoors.responses.store import MemoryStore
from proxy.pipeline import SettingsError
from proxy.settings import parse_settings
from tests.conftest import PROVIDER_KEY
from tests.servers import free_port

DB = 11


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# ---------------------------------------------------------------- memory


def test_memory_store_is_bounded_by_entries_and_bytes() -> None:
    s = MemoryStore(ResponsesSettings(max_entries=3, max_bytes=10_000, max_entry_bytes=2_000))

    async def fill() -> None:
        for i in range(10):
            assert await s.put(f"k{i}", b"x" * 100)
        assert len(s) == 3 and await s.get("k0") is None and await s.get("k9") == b"x" * 100
        assert not await s.put("big", b"x" * 2_001)  # over max_entry_bytes: not kept
        for i in range(40):
            await s.put(f"b{i}", b"y" * 1_900)
        assert s.size <= 10_000

    run(fill())


def test_memory_store_expires_and_deletes(monkeypatch: pytest.MonkeyPatch) -> None:
    s = MemoryStore(ResponsesSettings(ttl_seconds=60))
    now = [1000.0]
    monkeypatch.setattr(store_mod.time, "monotonic", lambda: now[0])

    async def go() -> None:
        await s.put("a", b"1")
        await s.put("b", b"2")
        now[0] += 59
        assert await s.get("a") == b"1"
        now[0] += 2
        assert await s.get("a") is None  # past its TTL
        assert await s.delete("b") is False  # expired counts as gone
        await s.put("c", b"3")
        assert await s.delete("c") is True and await s.get("c") is None

    run(go())


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"ttl_seconds": 0}, "responses.ttl_seconds"),
        ({"max_entry_bytes": 10, "max_bytes": 5}, "responses.max_entry_bytes"),
        ({"store": "disk"}, "responses.store"),
        ({"ttl": 5}, "responses"),
        ({"store": "redis"}, "responses.store"),  # no URL here nor in the redis section
        ({"store": "redis", "redis_url": "ftp://x"}, "responses.redis_url"),
    ],
)
def test_bad_settings_name_the_field(raw: dict[str, Any], field: str) -> None:
    with pytest.raises(SettingsError) as err:
        create_app(parse_settings({"responses": raw}, {}))
    assert field in str(err.value)


def test_env_switches_the_store() -> None:
    env = {"GATEWAY_RESPONSES_STORE": "redis", "GATEWAY_RESPONSES_REDIS_URL": "redis://r:6379/2"}
    s = parse_settings({}, env)
    assert (s.responses.store, s.responses.redis_url) == ("redis", "redis://r:6379/2")


# ---------------------------------------------------------------- redis


@pytest.fixture
def redis_settings(redis_url: str) -> Iterator[dict[str, Any]]:
    prefix = f"test:responses:{os.urandom(4).hex()}:"
    url = f"{redis_url}/{DB}"
    yield {"responses": {"store": "redis", "redis_url": url, "redis_prefix": prefix}}
    r = redis.Redis.from_url(url)
    for key in r.scan_iter(prefix + "*"):
        r.delete(key)


def claude(gw: Any, upstream: Any, key: str = PROVIDER_KEY) -> openai.OpenAI:
    headers = {"x-portkey-provider": "anthropic", "x-portkey-custom-host": upstream.url + "/v1"}
    return openai.OpenAI(
        api_key=key, base_url=gw.url + "/v1", default_headers=headers, max_retries=0
    )


@pytest.mark.redis
def test_the_shared_redis_section_is_the_default(make_gateway, mock_claude, redis_url) -> None:
    """With the top-level ``redis`` section set, stored responses span replicas with no
    responses section at all (and an explicit ``store: memory`` keeps them local)."""
    _, upstream = mock_claude
    prefix = f"test:shared:{os.urandom(4).hex()}:"
    shared = {"redis": {"url": f"{redis_url}/{DB}", "prefix": prefix}}
    a = claude(make_gateway(shared), upstream)
    b = claude(make_gateway(shared), upstream)
    r = a.responses.create(model="claude-x", input="shared by default")
    assert b.responses.retrieve(r.id).id == r.id
    db = redis.Redis.from_url(f"{redis_url}/{DB}")
    keys = list(db.scan_iter(prefix + "responses:*"))
    assert len(keys) == 1
    local = {**shared, "responses": {"store": "memory"}}
    c = claude(make_gateway(local), upstream)
    d = claude(make_gateway(local), upstream)
    mine = c.responses.create(model="claude-x", input="kept here")
    with pytest.raises(openai.NotFoundError):
        d.responses.retrieve(mine.id)
    for key in keys:
        db.delete(key)


@pytest.mark.redis
def test_redis_store_is_shared_by_replicas(make_gateway, mock_claude, redis_settings) -> None:
    mock, upstream = mock_claude
    a = claude(make_gateway(redis_settings), upstream)
    b = claude(make_gateway(redis_settings), upstream)
    first = a.responses.create(model="claude-x", input="on replica a")
    assert b.responses.retrieve(first.id).output_text == "echo: on replica a"
    b.responses.create(model="claude-x", input="on replica b", previous_response_id=first.id)
    turns = [m for m in mock.requests[-1]["json"]["messages"] if m["role"] == "user"]
    assert len(turns) == 2
    r = redis.Redis.from_url(redis_settings["responses"]["redis_url"])
    keys = list(r.scan_iter(redis_settings["responses"]["redis_prefix"] + "*"))
    assert len(keys) == 2
    for key in keys:
        assert 0 < r.ttl(key) <= 3600  # every entry expires
        value = r.get(key)
        assert value is not None and PROVIDER_KEY.encode() not in value  # no credential kept
        assert first.id.encode() not in key  # keys are digests: no id, no scope
    b.responses.delete(first.id)
    with pytest.raises(openai.NotFoundError):
        a.responses.retrieve(first.id)


def test_redis_outage_answers_and_never_500s(make_gateway, mock_claude, logs) -> None:
    _, upstream = mock_claude
    dead = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    gw = make_gateway({"responses": {"store": "redis", "redis_url": dead, "redis_timeout": 0.2}})
    client = claude(gw, upstream)
    r = client.responses.create(model="claude-x", input="still answered")
    assert r.output_text == "echo: still answered"  # the answer, though it cannot be kept
    with client.responses.stream(model="claude-x", input="streamed too") as s:
        list(s)
    assert s.get_final_response().output_text == "echo: streamed too"
    for call in (
        lambda: client.responses.retrieve(r.id),
        lambda: client.responses.delete(r.id),
        lambda: client.responses.input_items.list(r.id),
        lambda: client.responses.create(model="claude-x", input="x", previous_response_id=r.id),
    ):
        with pytest.raises(openai.APIStatusError) as err:
            call()
        assert err.value.status_code == 503
        assert err.value.code == "response_store_unavailable"
    lines = logs()
    assert any(x.get("event") == "response store unavailable" for x in lines)
    assert any(x.get("event") == "response not stored" for x in lines)
    assert not any(x.get("status") == 500 for x in lines if x.get("event") == "request")
