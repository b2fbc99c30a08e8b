"""The pure pieces: the canonical key, the byte-bounded LRU and the in-memory vector index."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from middleware.cache.key import exact_key, semantic_key
from middleware.cache.memory import ENTRY_OVERHEAD, MemoryStore
from middleware.cache.semantic import MemoryIndex, normalise
from middleware.cache.vector_memory import vector_bytes
from proxy.context import RequestContext
from proxy.frontdoors.chat import decode_chat
from proxy.routing.config import parse_config


def ctx_for(body: dict[str, Any] | str, **headers: str) -> RequestContext:
    raw = (body if isinstance(body, str) else json.dumps(body)).encode()
    h = CIMultiDictProxy(CIMultiDict({k.replace("_", "-"): v for k, v in headers.items()}))
    return RequestContext("rid", "tid", h, decode_chat(raw))


BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.3}


def test_key_is_canonical() -> None:
    base = exact_key(ctx_for(BODY), "")
    reordered = (
        '{"temperature": 0.3, "messages": [{"content": "hi", "role": "user"}], "model": "m"}'
    )
    assert exact_key(ctx_for(reordered), "") == base
    streamed = {**BODY, "stream": True, "stream_options": {"include_usage": True}, "user": "u1"}
    assert exact_key(ctx_for(streamed), "") == base
    assert exact_key(ctx_for({**BODY, "temperature": 0.4}), "") != base
    assert exact_key(ctx_for({**BODY, "unknown_vendor_knob": 1}), "") != base
    assert exact_key(ctx_for(BODY), "ns") != base
    assert exact_key(ctx_for(BODY, x_portkey_provider="groq"), "") != base
    assert exact_key(ctx_for(BODY, authorization="Bearer k1"), "") != base


def test_key_scope_and_config() -> None:
    a, b = ctx_for(BODY), ctx_for(BODY)
    a.principal, b.principal = "team-a", "team-b"
    assert exact_key(a, "") != exact_key(b, "")
    # with a gateway principal, the provider key does not split the tenant's entries
    c = ctx_for(BODY, authorization="Bearer other")
    c.principal = "team-a"
    assert exact_key(c, "") == exact_key(a, "")
    one, two, other = ctx_for(BODY), ctx_for(BODY), ctx_for(BODY)
    one.config = parse_config({"provider": "openai", "cache": {"mode": "simple", "max_age": 5}})
    two.config = parse_config({"provider": "openai", "cache": {"mode": "simple", "max_age": 9}})
    other.config = parse_config({"provider": "groq", "cache": {"mode": "simple"}})
    assert exact_key(one, "") == exact_key(two, "")  # max_age is not part of the answer
    assert exact_key(one, "") != exact_key(other, "")


def test_semantic_key_buckets() -> None:
    def sem(body: dict[str, Any], embed: Any = "last_user") -> tuple[str, str] | None:
        ctx = ctx_for(body)
        return semantic_key(ctx, "", {k: v for k, v in body.items() if k != "stream"}, embed)

    first = sem(BODY)
    assert first is not None and first[1] == "hi"
    other_text = sem({**BODY, "messages": [{"role": "user", "content": "hello"}]})
    assert other_text is not None and other_text[0] == first[0]  # same bucket, other text
    two_turns = {**BODY, "messages": [{"role": "system", "content": "s"}, *BODY["messages"]]}
    with_system = sem(two_turns)
    assert with_system is not None and with_system[0] != first[0]
    whole = sem(two_turns, "all")
    assert whole is not None and whole[1] == "system: s\nuser: hi"
    assert sem({**BODY, "messages": [{"role": "system", "content": "only"}]}) is None


async def test_memory_store_is_bounded_by_bytes(monkeypatch) -> None:
    value = b"x" * 100
    per_entry = len(value) + len("k0") + ENTRY_OVERHEAD
    store = MemoryStore(max_bytes=3 * per_entry, max_entry_bytes=1024)
    for i in range(3):
        await store.set(f"k{i}", value, 60)
    assert await store.get("k0") == value  # k0 is now the most recently used
    await store.set("k3", value, 60)
    assert await store.get("k1") is None  # the least recently used went
    assert [await store.get(k) for k in ("k0", "k2", "k3")] == [value] * 3
    assert store.size == 3 * per_entry
    await store.set("big", b"y" * 2000, 60)  # larger than max_entry_bytes: not stored
    assert await store.get("big") is None and len(store) == 3
    clock = [1000.0]
    monkeypatch.setattr("middleware.cache.memory.time.monotonic", lambda: clock[0])
    await store.set("short", value, 5)
    clock[0] += 5.01
    assert await store.get("short") is None


async def test_memory_index_nearest_and_bound() -> None:
    index = MemoryIndex(max_vectors=3, per_bucket=10)
    vec = {name: normalise(v) for name, v in {"x": [1, 0], "y": [0, 1], "xy": [1, 1]}.items()}
    assert all(v is not None for v in vec.values())
    await index.add("b", "kx", vec["x"], 60)  # type: ignore[arg-type]
    await index.add("b", "ky", vec["y"], 60)  # type: ignore[arg-type]
    found = await index.nearest("b", vec["xy"])  # type: ignore[arg-type]
    assert found is not None and found[1] == pytest.approx(np.sqrt(0.5))
    assert await index.nearest("other", vec["x"]) is None  # type: ignore[arg-type]
    await index.add("c", "k1", vec["x"], 60)  # type: ignore[arg-type]
    await index.add("c", "k2", vec["y"], 60)  # type: ignore[arg-type]
    assert index.count == 3  # the oldest vector (kx in bucket b) made room
    found = await index.nearest("b", vec["x"])  # type: ignore[arg-type]
    assert found is not None and found[0] == "ky"
    assert normalise([0.0, 0.0]) is None


async def test_memory_index_expiry_replacement_and_byte_bound(monkeypatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr("middleware.cache.vector_memory.time.monotonic", lambda: clock[0])
    rng = np.random.default_rng(7)
    vecs = [normalise(list(rng.standard_normal(64))) for _ in range(50)]
    index = MemoryIndex(max_vectors=1000, per_bucket=1000)
    for i, v in enumerate(vecs):
        await index.add("b", f"k{i}", v, 10 if i % 2 else 100)  # type: ignore[arg-type]
    found = await index.nearest("b", vecs[7])  # type: ignore[arg-type]
    assert found is not None and found[0] == "k7" and found[1] > 0.98
    clock[0] += 50  # the odd entries expire: a lookup never returns them
    found = await index.nearest("b", vecs[7])  # type: ignore[arg-type]
    assert found is not None and found[0] != "k7" and int(found[0][1:]) % 2 == 0
    await index.add("b", "k8", vecs[9], 100)  # type: ignore[arg-type]  # same key, new vector
    found = await index.nearest("b", vecs[9])  # type: ignore[arg-type]
    assert found is not None and found[0] == "k8"
    assert index.bytes > 0
    small = MemoryIndex(max_vectors=1000, per_bucket=1000, max_bytes=20 * vector_bytes(64))
    for i, v in enumerate(vecs):
        await small.add("b", f"k{i}", v, 100)  # type: ignore[arg-type]
    assert small.bytes <= small.max_bytes and small.count == 20
    assert await small.nearest("b", vecs[49]) is not None  # the newest are kept
