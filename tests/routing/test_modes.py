"""Load balancing and conditional routing through the real server."""

from __future__ import annotations

import openai
import pytest

from tests.routing.conftest import ask, client, router_settings


def test_loadbalance_follows_weights(make_gateway, upstream) -> None:
    gw = make_gateway(router_settings(seed=7))
    heavy, light, never = upstream("ok"), upstream("ok"), upstream("ok")
    config = {
        "strategy": {"mode": "loadbalance"},
        "targets": [heavy.target(weight=3), light.target(weight=1), never.target(weight=0)],
    }
    c = client(gw, config)
    seen = {ask(c).headers["x-portkey-last-used-option-index"] for _ in range(60)}
    assert never.calls == 0
    assert heavy.calls + light.calls == 60
    assert 30 <= heavy.calls <= 55  # expected 45 of 60
    assert seen == {"config.targets[0]", "config.targets[1]"}


def test_loadbalance_does_not_fall_back(routed, upstream) -> None:
    bad = upstream(503)
    config = {"strategy": {"mode": "loadbalance"}, "targets": [bad.target(weight=1)]}
    with pytest.raises(openai.InternalServerError):
        ask(client(routed, config))


COND = {
    "strategy": {
        "mode": "conditional",
        "conditions": [
            {"query": {"metadata.plan": {"$eq": "paid"}}, "then": "smart"},
            {
                "query": {
                    "$and": [
                        {"params.temperature": {"$gte": 0.7}},
                        {"params.model": {"$regex": "^creative-"}},
                    ]
                },
                "then": "creative",
            },
            {
                "query": {
                    "$or": [
                        {"metadata.region": {"$in": ["eu-west", "eu-central"]}},
                        {"url.pathname": {"$ne": "/v1/chat/completions"}},
                    ]
                },
                "then": "eu",
            },
        ],
        "default": "cheap",
    }
}


def test_conditional_routes_on_metadata_params_and_path(routed, upstream) -> None:
    ups = {name: upstream("ok", name=name) for name in ("smart", "creative", "eu", "cheap")}
    config = {
        **COND,
        "targets": [ups[n].target(name=n) for n in ("cheap", "smart", "creative", "eu")],
    }

    def route(meta: str = "{}", **kw: object) -> str:
        raw = ask(client(routed, config, x_portkey_metadata=meta), **kw)
        return raw.parse().choices[0].message.content.split(":")[0]

    assert route('{"plan": "paid"}') == "smart"
    assert route('{"plan": "free"}', model="creative-1", temperature=0.9) == "creative"
    assert route(model="creative-1", temperature=0.2) == "cheap"
    assert route('{"region": "eu-west"}') == "eu"
    assert route('{"region": "us"}') == "cheap"
    raw = ask(client(routed, config, x_portkey_metadata='{"plan": "paid"}'))
    assert raw.headers["x-portkey-last-used-option-index"] == "config.targets[1]"


def test_conditional_without_default_and_no_match_is_400(routed, upstream) -> None:
    up = upstream("ok")
    config = {
        "strategy": {
            "mode": "conditional",
            "conditions": [{"query": {"metadata.plan": "paid"}, "then": "a"}],
        },
        "targets": [up.target(name="a")],
    }
    with pytest.raises(openai.BadRequestError) as info:
        ask(client(routed, config))
    assert info.value.body["code"] == "no_matching_target"
    assert ask(client(routed, config, x_portkey_metadata='{"plan": "paid"}')).parse()


def test_conditional_picks_a_nested_fallback(routed, upstream) -> None:
    bad, good = upstream(503), upstream("ok")
    config = {
        "strategy": {
            "mode": "conditional",
            "conditions": [{"query": {"params.max_tokens": {"$lt": 100}}, "then": "short"}],
            "default": "short",
        },
        "targets": [
            {
                "name": "short",
                "strategy": {"mode": "fallback"},
                "targets": [bad.target(), good.target()],
            }
        ],
    }
    raw = ask(client(routed, config), max_tokens=10)
    assert raw.headers["x-portkey-last-used-option-index"] == "config.targets[0].targets[1]"


def test_settings_config_by_id_and_slug_targets(make_gateway, upstream) -> None:
    a, b = upstream(500), upstream("ok")
    settings = router_settings()
    settings["providers"] = {
        "primary": {
            "provider": "openai",
            "api_key": "sk-settings-key-0003",
            "custom_host": a.server.url + "/v1",
        },
        "backup": {
            "provider": "groq",
            "api_key": "sk-settings-key-0003",
            "custom_host": b.server.url + "/v1",
        },
    }
    settings["configs"] = {
        "resilient": {
            "strategy": {"mode": "fallback"},
            "targets": [
                {"virtual_key": "primary"},
                {"override_params": {"model": "@backup/llama-3"}},
            ],
        }
    }
    gw = make_gateway(settings)
    raw = ask(client(gw, "resilient"))
    assert raw.headers["x-portkey-provider"] == "groq"
    assert b.mock.requests[0]["json"]["model"] == "llama-3"
    assert b.mock.requests[0]["headers"]["Authorization"] == "Bearer sk-settings-key-0003"


def test_children_inherit_shaping_fields(routed, upstream) -> None:
    up = upstream(503, "ok")
    config = {
        "strategy": {"mode": "fallback"},
        "custom_host": up.server.url + "/v1",
        "forward_headers": ["x-team"],
        "override_params": {"temperature": 0.3},
        "targets": [
            {"provider": "openai"},
            {"provider": "groq", "override_params": {"temperature": 0.6}},
        ],
    }
    raw = ask(client(routed, config, x_team="blue"))
    assert raw.headers["x-portkey-provider"] == "groq"
    first, second = up.mock.requests
    assert first["json"]["temperature"] == 0.3
    assert second["json"]["temperature"] == 0.6  # the nearest setting wins
    assert first["headers"]["x-team"] == second["headers"]["x-team"] == "blue"
