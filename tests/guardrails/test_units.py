"""The pure pieces under the checks: validators, the schema subset, the stream redactor."""

from __future__ import annotations

import random
import re

import openai
import pytest

from middleware.guardrails.checks.content import find_urls, url_problem
from middleware.guardrails.checks.pii import ALL, detector_for, iban_ok, luhn_ok
from middleware.guardrails.detect import HOLD, DetectorRewriter
from middleware.guardrails.schemas import GENERIC_ERROR, SchemaCache, compile_schema
from middleware.guardrails.stream import ChunkRedactor
from proxy.reply import Chunk
from proxy.schema import ChatCompletionChunk, ChunkChoice, Delta
from tests.guardrails.upstreams import SplitStreamUpstream
from tests.servers import ServerThread


def test_luhn_and_iban() -> None:
    assert luhn_ok("4111 1111 1111 1111") and luhn_ok("5500-0000-0000-0004")
    assert not luhn_ok("4111 1111 1111 1112") and not luhn_ok("1234")
    assert iban_ok("DE89 3704 0044 0532 0130 00") and iban_ok("GB82WEST12345698765432")
    assert not iban_ok("DE89 3704 0044 0532 0130 01") and not iban_ok("XX00")


def test_url_problems() -> None:
    assert url_problem("https://example.com/x") is None
    assert url_problem("https://例え.テスト/") is None
    assert url_problem("http://[::1]:8080/") is None
    assert url_problem("http://host/") == "host is not a fully qualified domain name"
    assert url_problem("http://example.123/") == "top-level domain is numeric"
    assert find_urls("(see https://a.example/x), and http://b.example.") == [
        "https://a.example/x",
        "http://b.example",
    ]


def test_schema_validation() -> None:
    s = compile_schema(
        {
            "type": "object",
            "required": ["items"],
            "additionalProperties": False,
            "properties": {
                "items": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/item"}},
                "kind": {"enum": ["a", "b"]},
                "code": {"type": "string", "pattern": "^[A-Z]{2}$"},
            },
            "$defs": {
                "item": {
                    "anyOf": [{"type": "integer", "multipleOf": 2}, {"type": "null"}],
                }
            },
        }
    )
    assert s.errors({"items": [2, None, 4.0], "kind": "a", "code": "FR"}) == []
    # the first error only: is_valid stops there, and building all of them can be costly
    assert s.errors({"items": [], "extra": 1, "code": "fr"}) == ["$.items: [] has less than 1 item"]
    assert s.errors({"code": "fr", "items": [2]}) == ['$.code: "fr" does not match "^[A-Z]{2}$"']
    assert s.errors({"items": [3, True]}) == [
        "$.items[0]: 3 is not valid under any of the schemas listed in the 'anyOf' keyword"
    ]
    assert s.errors([]) == ['$: [] is not of type "object"']
    assert s.errors({"items": [2], "code": "x" * 1000})[0].endswith("…")  # quoted, but short
    for bad, where in [
        ({"type": "obj"}, "schema.type"),
        ({"properties": {"a": {"minLength": -1}}}, "schema.properties.a.minLength"),
        ({"$ref": "#/nowhere"}, "schema.$ref: '#/nowhere' does not resolve"),
        ({"$ref": "http://example.com/s.json"}, "schema.$ref: only local references"),
        ({"pattern": "("}, "schema.pattern"),
        ({"pattern": "(?<=a)b"}, "schema.pattern"),  # lookbehind: not the linear engine's
        ({"oneOf": []}, "schema.oneOf"),
        ({"$schema": "http://127.0.0.1:9/meta"}, "schema.$schema"),
        ({"$defs": {"a": {"$id": "http://x/", "$ref": "#/b"}}}, "schema.$defs.a.$id"),
        ({"$dynamicRef": "#meta"}, "schema.$dynamicRef"),
        ({"properties": {"a": {"not": {"not": 5}}}}, "schema.properties.a.not.not: a schema"),
    ]:
        with pytest.raises(ValueError, match=re.escape(where)):
            compile_schema(bad)


def test_recursive_schemas() -> None:
    # recursion that never descends into the value is refused when compiled...
    with pytest.raises(ValueError, match=r"schema\.\$defs\.n: recursion through \$ref"):
        compile_schema({"$defs": {"n": {"$ref": "#/$defs/n"}}, "$ref": "#/$defs/n"})
    with pytest.raises(ValueError, match=r"schema: recursion through \$ref"):
        compile_schema({"anyOf": [{"$ref": "#"}, {"type": "string"}]})
    # ...recursion through the value's own nesting is fine, however deep the value
    tree = compile_schema(
        {
            "type": "object",
            "properties": {"name": {"type": "string"}, "kids": {"items": {"$ref": "#"}}},
            "additionalProperties": {"$ref": "#"},
        }
    )
    value: dict[str, object] = {"name": "leaf"}
    for _ in range(300):
        value = {"name": "n", "kids": [value]}
    assert tree.errors(value) == []
    assert tree.bounds.evaluations == 2


def test_error_details_are_skipped_when_building_them_is_costly() -> None:
    defs: dict[str, object] = {
        f"d{i}": {"anyOf": [{"$ref": f"#/$defs/d{i + 1}"}, {"$ref": f"#/$defs/d{i + 1}"}]}
        for i in range(10)
    }
    defs["d10"] = {"type": "string"}
    s = compile_schema({"$defs": defs, "$ref": "#/$defs/d0"})
    assert s.bounds.evaluations == 2 + 2 * (2**11 - 2)  # root, d0, then branch + def per path
    assert s.errors(1)[0].startswith("$: 1 is not valid under any of the schemas")
    assert s.errors(1, budget_ns=1_000_000) == [GENERIC_ERROR]
    assert s.errors("ok", budget_ns=0) == []


def test_schema_cache_is_bounded_and_keyed_by_content() -> None:
    cache = SchemaCache(size=8)
    a = cache.compile({"type": "object", "required": ["a", "b"]})
    assert cache.compile({"required": ["a", "b"], "type": "object"}) is a  # same canonical JSON
    for i in range(50):
        cache.compile({"type": "object", "minProperties": i})
    assert len(cache) == 8
    for _ in range(2):  # a refusal is remembered, and raised again
        with pytest.raises(ValueError, match=r"schema\.type"):
            cache.compile({"type": "thing"})
    with pytest.raises(ValueError, match="more than 65536"):
        cache.compile({"enum": ["x" * 70_000]})
    deep: dict[str, object] = {}
    for _ in range(100):
        deep = {"not": deep}
    with pytest.raises(ValueError, match="nested deeper than 64"):
        cache.compile(deep)


def test_schema_cache_bounds_the_patterns_it_keeps_compiled() -> None:
    cache = SchemaCache(size=100, patterns=100)

    def with_patterns(n: int, tag: int) -> dict[str, object]:
        return {"properties": {f"p{i}": {"pattern": f"^{tag}-{i}$"} for i in range(n)}}

    for tag in range(10):
        cache.compile(with_patterns(30, tag))
    assert cache.patterns <= 100 and len(cache) == 3  # 3 x 30 patterns fit, 4 do not
    with pytest.raises(ValueError, match="more than 64 distinct patterns"):
        cache.compile(with_patterns(65, 99))


def _chunk(text: str | None, finish: str | None = None) -> Chunk:
    choice = ChunkChoice(0, Delta(content=text) if text is not None else Delta(), finish)
    return Chunk(parsed=ChatCompletionChunk(id="c", created=1, model="m", choices=[choice]))


def _run(pieces: list[str]) -> list[str]:
    red = ChunkRedactor([DetectorRewriter(detector_for(list(ALL)))])
    out = [red.feed(_chunk(p)).parsed.choices[0].delta.content for p in pieces]
    out.append(red.feed(_chunk(None, "stop")).parsed.choices[0].delta.content)
    return [o if isinstance(o, str) else "" for o in out]


@pytest.mark.parametrize("seed", range(20))
def test_redaction_is_the_same_however_the_stream_is_cut(seed: int) -> None:
    filler = " ".join(f"w{i}" for i in range(40))
    text = (
        f"{filler} mail bob.smith@example.co.uk or call +1 415-555-0132; {filler} card "
        f"5500 0000 0000 0004, ip 10.0.0.12 and ssn 123-45-6789. {filler}"
    )
    expected = detector_for(list(ALL)).redact(text)[0]
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(text)), 25))
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    out = _run(pieces)
    assert "".join(out) == expected
    assert "bob.smith" not in "".join(out) and "0004" not in "".join(out)
    # text is released while the stream runs, not all at the end
    assert sum(len(o) for o in out[:-1]) > len(expected) // 2
    assert len(out[-1]) <= 2 * HOLD + 40


def test_stream_without_finish_chunk_is_flushed() -> None:
    red = ChunkRedactor([DetectorRewriter(detector_for(["email"]))])
    first = red.feed(_chunk("write to a@b.example")).parsed.choices[0].delta.content
    (tail,) = red.flush()
    assert (first or "") + (tail.parsed.choices[0].delta.content or "") == (
        "write to [REDACTED_EMAIL]"
    )


def test_split_upstream_speaks_openai() -> None:
    up = SplitStreamUpstream()
    with ServerThread(up.app) as server:
        client = openai.OpenAI(api_key="k", base_url=server.url + "/v1", max_retries=0)
        stream = client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "ab|cd|ef"}], stream=True
        )
        deltas = [c.choices[0].delta.content for c in stream if c.choices]
        assert deltas == ["", "ab", "cd", "ef", None]
        r = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "a|b"}])
        assert r.choices[0].message.content == "ab"
