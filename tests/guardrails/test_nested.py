"""Guardrails on nested config targets: they apply to the attempt that uses the target.

Two MockOpenAI upstreams (a, b) stand for two targets; their call counts and the bodies they
received prove which target was called and what it saw.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from middleware.guardrails import GuardrailsMiddleware
from proxy.app import create_app
from proxy.routing.config import parse_config
from proxy.settings import parse_settings
from tests.conftest import PROVIDER_KEY
from tests.guardrails.conftest import guard, settings
from tests.mock_openai import MockOpenAI
from tests.servers import ServerThread

ROOT = pathlib.Path(__file__).resolve().parents[2]
INDEX = "x-portkey-last-used-option-index"


class Env:
    def __init__(self, gateway: ServerThread, a: MockOpenAI, a_url: str, b: MockOpenAI,
                 b_url: str) -> None:  # fmt: skip
        self.gateway = gateway
        self.a, self.b = a, b
        self.a_url, self.b_url = a_url, b_url

    def target(self, which: str, **extra: Any) -> dict[str, Any]:
        url = self.a_url if which == "a" else self.b_url
        return {"provider": "openai", "custom_host": url + "/v1", **extra}

    def client(self, config: Any) -> openai.OpenAI:
        cfg = config if isinstance(config, str) else json.dumps(config)
        return openai.OpenAI(
            api_key=PROVIDER_KEY,
            base_url=self.gateway.url + "/v1",
            default_headers={"x-portkey-config": cfg},
            max_retries=0,
            timeout=10,
        )

    def chat(self, text: str, config: Any) -> Any:
        """Raw response of a non-stream request."""
        return self.client(config).chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": text}]
        )

    def denied(self, text: str, config: Any, stream: bool = False) -> openai.APIStatusError:
        with pytest.raises(openai.APIStatusError) as ei:
            c = self.client(config).chat.completions
            if stream:
                for _ in c.create(
                    model="gpt-4o-mini",
                    messages=[{"role": "user", "content": text}],
                    stream=True,
                ):
                    pass
            else:
                c.create(model="gpt-4o-mini", messages=[{"role": "user", "content": text}])
        assert ei.value.status_code == 446
        assert ei.value.response.json()["error"]["type"] == "hooks_failed"
        return ei.value

    def counts(self) -> tuple[int, int]:
        return self.a.calls, self.b.calls


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    a, b = MockOpenAI(), MockOpenAI()
    sa, sb = ServerThread(a.app).start(), ServerThread(b.app).start()
    raw = settings("http://127.0.0.1:9/unused")
    raw["middleware"][2]["options"] = {"seed": 11}  # reproducible load balancing
    raw["configs"]["nested-by-id"] = {
        "strategy": {"mode": "fallback"},
        "targets": [
            {"provider": "openai", "custom_host": sa.url + "/v1", "input_guardrails": ["calm"]},
            {"provider": "openai", "custom_host": sb.url + "/v1"},
        ],
    }
    gw = ServerThread(lambda: create_app(parse_settings(raw, {}))).start()
    yield Env(gw, a, sa.url, b, sb.url)
    for s in (gw, sa, sb):
        s.stop()


def hooks(exc_or_raw: Any) -> dict[str, Any]:
    if isinstance(exc_or_raw, openai.APIStatusError):
        return exc_or_raw.response.json()["hook_results"]
    return json.loads(exc_or_raw.content)["hook_results"]


def no_word(word: str, deny: bool = True, **kw: Any) -> dict[str, Any]:
    return guard("default.contains", {"words": [word], "operator": "none"}, deny=deny, **kw)


# ---------------------------------------------------------------- input


def test_nested_input_deny_never_calls_the_chosen_target(env: Env) -> None:
    before = env.counts()
    cfg = {
        "input_guardrails": [no_word("zebra", id="root-check")],
        "targets": [env.target("a", input_guardrails=[no_word("forbidden", id="leaf-check")])],
    }
    exc = env.denied("a forbidden question", cfg)
    assert env.counts() == before  # the upstream never saw it
    assert exc.response.headers[INDEX] == "config.targets[0]"
    ids = [(h["id"], h["verdict"], h["deny"]) for h in hooks(exc)["before_request_hooks"]]
    assert ids == [("root-check", True, False), ("leaf-check", False, True)]  # root's first
    raw = env.chat("a harmless question", cfg)
    assert raw.status_code == 200 and env.counts() == (before[0] + 1, before[1])
    assert [h["id"] for h in hooks(raw)["before_request_hooks"]] == ["root-check", "leaf-check"]


def test_deny_is_a_verdict_the_fallback_does_not_move_on(env: Env) -> None:
    before = env.counts()
    cfg = {
        "strategy": {"mode": "fallback"},
        "targets": [env.target("a", input_guardrails=[no_word("forbidden")]), env.target("b")],
    }
    exc = env.denied("forbidden words", cfg)
    assert env.counts() == before  # neither a nor the next target b was called
    assert exc.response.headers[INDEX] == "config.targets[0]"


def test_fallback_on_446_when_listed_in_on_status_codes(env: Env) -> None:
    before = env.counts()
    cfg = {
        "strategy": {"mode": "fallback", "on_status_codes": [446, 503]},
        "targets": [env.target("a", input_guardrails=[no_word("forbidden")]), env.target("b")],
    }
    raw = env.chat("forbidden words", cfg)
    assert raw.status_code == 200 and raw.headers[INDEX] == "config.targets[1]"
    assert env.counts() == (before[0], before[1] + 1)
    # results are those of the attempt that answered (b has no guardrail, the root none)
    assert "hook_results" not in json.loads(raw.content)


def test_fallback_where_only_the_second_target_has_a_guardrail(env: Env) -> None:
    before = env.counts()
    first = env.target("a", override_params={"model": "error-503"})
    cfg = {
        "strategy": {"mode": "fallback"},
        "targets": [first, env.target("b", input_guardrails=[no_word("please", deny=False)])],
    }
    raw = env.chat("please answer", cfg)  # a fails (503), b answers; its guardrail fails soft
    assert raw.status_code == 246 and raw.headers[INDEX] == "config.targets[1]"
    assert env.counts() == (before[0] + 1, before[1] + 1)
    body = json.loads(raw.content)
    assert body["choices"][0]["message"]["content"] == "echo: please answer"
    (hook,) = body["hook_results"]["before_request_hooks"]
    assert hook["verdict"] is False and hook["deny"] is False
    # with deny, the fallback's last target answers 446 without being called
    cfg["targets"][1] = env.target("b", input_guardrails=[no_word("please")])
    env.denied("please answer", cfg)
    assert env.counts() == (before[0] + 2, before[1] + 1)


def test_settings_guardrail_by_id_on_a_nested_target(env: Env) -> None:
    before = env.counts()
    exc = env.denied("loud!!!", "nested-by-id")
    assert [h["id"] for h in hooks(exc)["before_request_hooks"]] == ["calm"]
    assert env.counts() == before
    assert env.chat("quiet", "nested-by-id").status_code == 200


def test_guardrails_accumulate_along_the_path(env: Env) -> None:
    """A middle node's guardrails and the leaf's both apply (conditional → single)."""
    cfg = {
        "strategy": {
            "mode": "conditional",
            "conditions": [{"query": {"params.model": "gpt-4o-mini"}, "then": "main"}],
        },
        "targets": [
            {
                "name": "main",
                "input_guardrails": [no_word("alpha", id="middle")],
                "targets": [env.target("a", input_guardrails=[no_word("beta", id="leaf")])],
            }
        ],
    }
    raw = env.chat("gamma", cfg)
    assert raw.headers[INDEX] == "config.targets[0].targets[0]"
    assert [h["id"] for h in hooks(raw)["before_request_hooks"]] == ["middle", "leaf"]
    for word, failed in (("alpha", "middle"), ("beta", "leaf")):
        exc = env.denied(word, cfg)
        results = {h["id"]: h["verdict"] for h in hooks(exc)["before_request_hooks"]}
        assert results[failed] is False


def test_loadbalance_guardrail_applies_only_to_the_drawn_target(env: Env) -> None:
    before = env.counts()
    cfg = {
        "strategy": {"mode": "loadbalance"},
        "targets": [
            env.target("a", weight=1),
            env.target("b", weight=1, input_guardrails=[no_word("secret")]),
        ],
    }
    drawn = {"config.targets[0]": 0, "config.targets[1]": 0}
    for _ in range(20):
        try:
            raw = env.chat("a secret plan", cfg)
        except openai.APIStatusError as exc:
            assert exc.status_code == 446
            drawn[exc.response.headers[INDEX]] += 1
        else:
            assert raw.status_code == 200 and "hook_results" not in json.loads(raw.content)
            drawn[raw.headers[INDEX]] += 1
    # every draw of b was denied (b never called), every draw of a answered
    assert drawn["config.targets[0]"] > 0 and drawn["config.targets[1]"] > 0
    assert env.counts() == (before[0] + drawn["config.targets[0]"], before[1])


# ---------------------------------------------------------------- rewrites


def test_redaction_applies_to_its_target_only(env: Env) -> None:
    pii = guard("default.pii", {"redact": True})
    text = "mail jane.doe@example.com now"
    n_a, n_b = len(env.a.requests), len(env.b.requests)
    failing = env.target("a", override_params={"model": "error-503"})
    cfg = {"strategy": {"mode": "fallback"}, "targets": [failing, env.target("b")]}
    # the redacting target fails: the next target gets the client's text, not the rewrite
    cfg["targets"][0] = {**failing, "input_guardrails": [pii]}
    raw = env.chat(text, cfg)
    assert raw.status_code == 200
    assert env.a.requests[n_a]["json"]["messages"][0]["content"] == "mail [REDACTED_EMAIL] now"
    assert env.b.requests[n_b]["json"]["messages"][0]["content"] == text
    # the other way round: only the redacting target sees the rewrite
    cfg["targets"] = [failing, env.target("b", input_guardrails=[pii])]
    raw = env.chat(text, cfg)
    assert env.a.requests[n_a + 1]["json"]["messages"][0]["content"] == text
    assert env.b.requests[n_b + 1]["json"]["messages"][0]["content"] == "mail [REDACTED_EMAIL] now"
    (hook,) = hooks(raw)["before_request_hooks"]
    assert hook["type"] == "mutator" and hook["transformed"] is True


# ---------------------------------------------------------------- output


def test_nested_output_deny_and_soft_fail(env: Env) -> None:
    before = env.counts()
    short = guard("default.wordCount", {"maxWords": 3}, deny=True, id="short")
    cfg = {"targets": [env.target("a", output_guardrails=[short])]}
    exc = env.denied("one two three four", cfg)  # the answer "echo: ..." has five words
    assert env.counts() == (before[0] + 1, before[1])  # called once, answer withheld
    res = hooks(exc)
    assert res["before_request_hooks"] == [] and res["after_request_hooks"][0]["id"] == "short"
    soft = guard("default.wordCount", {"maxWords": 3}, id="soft")
    cfg = {
        "output_guardrails": [guard("default.notNull", id="root-out")],
        "targets": [env.target("a", output_guardrails=[soft])],
    }
    raw = env.chat("one two three four", cfg)
    assert raw.status_code == 246
    body = json.loads(raw.content)
    assert body["choices"][0]["message"]["content"] == "echo: one two three four"
    after = [(h["id"], h["verdict"]) for h in body["hook_results"]["after_request_hooks"]]
    assert after == [("soft", False), ("root-out", True)]  # the target's first, then the root's


def test_output_deny_falls_back_only_when_446_is_listed(env: Env) -> None:
    before = env.counts()
    short = guard("default.wordCount", {"maxWords": 3}, deny=True)
    targets = [env.target("a", output_guardrails=[short]), env.target("b")]
    cfg: dict[str, Any] = {"strategy": {"mode": "fallback"}, "targets": targets}
    env.denied("one two three four", cfg)  # a answered, its answer was denied: no fallback
    assert env.counts() == (before[0] + 1, before[1])
    cfg["strategy"]["on_status_codes"] = [446]
    raw = env.chat("one two three four", cfg)
    assert raw.status_code == 200 and raw.headers[INDEX] == "config.targets[1]"
    assert env.counts() == (before[0] + 2, before[1] + 1)


def test_a_retry_runs_the_targets_checks_again(env: Env, logs: Any) -> None:
    before = env.counts()
    flaky = env.target(
        "a",
        override_params={"model": "error-503"},
        retry={"attempts": 2, "on_status_codes": [503]},
        input_guardrails=[no_word("zzz", deny=False, id="per-try")],
    )
    with pytest.raises(openai.InternalServerError):
        env.chat("hello", {"targets": [flaky]})
    assert env.counts() == (before[0] + 3, before[1])
    runs = [
        line
        for line in logs()
        if line.get("event") == "guardrails" and line["results"][0]["id"] == "per-try"
    ]
    assert len(runs) == 3


def test_nested_output_mutator_rewrites_that_answer(env: Env) -> None:
    prefix = guard("default.addPrefix", {"prefix": "[b] "})
    cfg = {"targets": [env.target("b", output_guardrails=[prefix])]}
    raw = env.chat("hi", cfg)
    assert json.loads(raw.content)["choices"][0]["message"]["content"] == "[b] echo: hi"


def test_nested_guardrails_on_streams(env: Env) -> None:
    before = env.counts()
    cfg = {"targets": [env.target("a", input_guardrails=[no_word("forbidden")])]}
    env.denied("forbidden stream", cfg, stream=True)
    assert env.counts() == before
    short = guard("default.wordCount", {"maxWords": 3}, deny=True)
    cfg = {"targets": [env.target("a", output_guardrails=[short])]}
    env.denied("one two three four", cfg, stream=True)  # buffered, then 446
    assert env.counts() == (before[0] + 1, before[1])
    prefix = guard("default.addPrefix", {"prefix": "> "})
    cfg = {"targets": [env.target("a", output_guardrails=[prefix])]}
    stream = env.client(cfg).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "> echo: hi"


# ---------------------------------------------------------------- validation


def test_invalid_nested_guardrail_is_a_400_naming_the_field(env: Env) -> None:
    before = env.counts()
    bad = guard("default.regexMatch", {"rule": "(unclosed"}, deny=True)
    cfg = {"strategy": {"mode": "fallback"}, "targets": [env.target("a"), env.target("b")]}
    cfg["targets"][1] = env.target("b", input_guardrails=[bad])  # not the target used first
    with pytest.raises(openai.BadRequestError) as ei:
        env.chat("hello", cfg)
    msg = ei.value.response.json()["error"]["message"]
    assert "targets[1].input_guardrails[0].checks[0].parameters.rule" in msg
    cfg["targets"][1] = env.target("b", output_guardrails=["no-such-guardrail"])
    with pytest.raises(openai.BadRequestError) as ei:
        env.chat("hello", cfg)
    assert "targets[1].output_guardrails[0]" in ei.value.response.json()["error"]["message"]
    assert env.counts() == before


def test_settings_config_with_a_bad_nested_guardrail_fails_check(tmp_path: pathlib.Path) -> None:
    f = tmp_path / "nested.yaml"
    f.write_text(
        "configs:\n  c1:\n    strategy: {mode: fallback}\n    targets:\n"
        "      - {provider: openai}\n"
        "      - provider: anthropic\n"
        "        output_guardrails: [{default.wordCount: {maxWrods: 3}, deny: true}]\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "proxy", "--check", "--config", str(f)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "configs.c1" in result.stderr and "targets[1].output_guardrails[0]" in result.stderr
    assert "maxWrods" in result.stderr and "Traceback" not in result.stderr


def test_no_nested_guardrails_means_no_attempt_hook() -> None:
    mw = GuardrailsMiddleware()
    plain = parse_config({"strategy": {"mode": "fallback"}, "targets": [{"provider": "openai"}]})
    assert mw._build_plan(plain, trusted=True) is None  # the middleware passes straight through
    root_only = parse_config({"input_guardrails": [no_word("x")], "provider": "openai"})
    plan = mw._build_plan(root_only, trusted=True)
    assert plan is not None and plan.nested == {}  # no hook is installed for the router
    nested = parse_config(
        {"targets": [{"targets": [{"provider": "openai", "input_guardrails": [no_word("x")]}]}]}
    )
    plan = mw._build_plan(nested, trusted=True)
    assert plan is not None and list(plan.nested) == ["config.targets[0].targets[0]"]
