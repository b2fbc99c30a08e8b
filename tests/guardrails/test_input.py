"""Input guardrails through the real gateway and the openai SDK."""

from __future__ import annotations

import json

import openai
import pytest

from proxy.gateway import Gateway
from proxy.pipeline import SettingsError
from proxy.settings import parse_settings
from tests.guardrails.conftest import Env, guard, settings


def _denied(exc: openai.APIStatusError) -> dict:
    assert exc.status_code == 446
    body = exc.response.json()
    assert body["error"]["type"] == "hooks_failed"
    assert set(body["error"]) == {"message", "type", "param", "code"}
    return body["hook_results"]


def test_deny_stops_before_upstream(env: Env) -> None:
    before = env.mock.calls
    cfg = {"input_guardrails": [guard("default.contains", {"words": ["forbidden"]}, deny=True)]}
    with pytest.raises(openai.APIStatusError) as ei:
        env.client(cfg).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "a harmless question"}]
        )
    results = _denied(ei.value)
    assert env.mock.calls == before  # the upstream never saw the request
    assert results["after_request_hooks"] == []
    (hook,) = results["before_request_hooks"]
    assert hook["verdict"] is False and hook["deny"] is True and hook["type"] == "guardrail"
    (check,) = hook["checks"]
    assert check["id"] == "default.contains" and check["verdict"] is False
    assert "execution_time" in check and check["created_at"].endswith("Z")


def test_deny_stops_a_stream_request_too(env: Env) -> None:
    before = env.mock.calls
    cfg = {"input_guardrails": [guard("default.wordCount", {"maxWords": 2}, deny=True)]}
    with pytest.raises(openai.APIStatusError) as ei:
        env.client(cfg).chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "far too many words here"}],
            stream=True,
        )
    _denied(ei.value)
    assert env.mock.calls == before


def test_failure_without_deny_is_246_with_the_answer(env: Env) -> None:
    before = env.mock.calls
    cfg = {"input_guardrails": [guard("default.contains", {"words": ["please"]})]}
    status, body = env.chat("give me the answer", cfg)
    assert status == 246
    assert body["choices"][0]["message"]["content"] == "echo: give me the answer"
    (hook,) = body["hook_results"]["before_request_hooks"]
    assert hook["verdict"] is False and hook["deny"] is False
    assert env.mock.calls == before + 1


def test_passing_guardrail_is_200_with_results(env: Env) -> None:
    cfg = {"input_guardrails": [guard("default.contains", {"words": ["please"]}, deny=True)]}
    status, body = env.chat("please answer", cfg)
    assert status == 200
    assert body["hook_results"]["before_request_hooks"][0]["verdict"] is True
    assert body["id"] == "chatcmpl-mock123" and body["usage"]["total_tokens"] > 0


def test_no_guardrail_leaves_the_body_untouched(env: Env) -> None:
    status, body = env.chat("plain request")
    assert status == 200 and "hook_results" not in body
    # unknown upstream fields survive: the answer was relayed as the upstream sent it
    assert body["choices"][0]["message"]["annotations"] == []


def test_shorthand_and_old_hook_names(env: Env) -> None:
    before = env.mock.calls
    short = {"before_request_hooks": [{"default.contains": {"words": ["bomb"]}, "deny": True}]}
    status, _ = env.chat(
        "what is a bomb",
        {"input_guardrails": [{"contains": {"words": ["x"], "operator": "none"}, "deny": True}]},
    )
    assert status == 200
    with pytest.raises(openai.APIStatusError) as ei:
        env.chat("nothing dangerous", short)
    (hook,) = _denied(ei.value)["before_request_hooks"]
    assert hook["checks"][0]["id"] == "default.contains"
    assert env.mock.calls == before + 1


def test_settings_guardrails_by_id_and_user_check(env: Env) -> None:
    before = env.mock.calls
    status, _ = env.chat("a calm request", "guarded")
    assert status == 200
    with pytest.raises(openai.APIStatusError) as ei:
        env.chat("a loud request!!!", "guarded")
    hooks = _denied(ei.value)["before_request_hooks"]
    calm = next(h for h in hooks if h["id"] == "calm")
    assert calm["checks"][0]["id"] == "acme.noShouting" and calm["verdict"] is False
    assert next(h for h in hooks if h["id"] == "no-secrets")["verdict"] is True
    assert env.mock.calls == before + 1


def test_default_guardrail_headers(env: Env) -> None:
    before = env.mock.calls
    with pytest.raises(openai.APIStatusError) as ei:
        env.chat("shout!", None, x_portkey_default_input_guardrails="calm")
    assert _denied(ei.value)["before_request_hooks"][0]["id"] == "calm"
    inline = json.dumps([{"default.endsWith": {"suffix": "?"}, "deny": True}])
    status, _ = env.chat("is this a question?", None, x_portkey_default_input_guardrails=inline)
    assert status == 200
    with pytest.raises(openai.APIStatusError):
        env.chat("not a question", None, x_portkey_default_input_guardrails=inline)
    assert env.mock.calls == before + 1


def test_unknown_ids_and_bad_parameters_are_400_naming_the_field(env: Env) -> None:
    with pytest.raises(openai.BadRequestError) as ei:
        env.chat("hi", {"input_guardrails": ["no-such-guardrail"]})
    assert "input_guardrails[0]" in ei.value.message
    bad = {"input_guardrails": [guard("default.wordCount", {"maxWrods": 3})]}
    with pytest.raises(openai.BadRequestError) as ei:
        env.chat("hi", bad)
    assert "input_guardrails[0].checks[0].parameters" in ei.value.message
    assert "maxWrods" in ei.value.message
    bad = {"input_guardrails": [guard("default.regexMatch", {"rule": "(unclosed"})]}
    with pytest.raises(openai.BadRequestError) as ei:
        env.chat("hi", bad)
    assert "parameters.rule" in ei.value.message


def test_client_cannot_import_code_by_dotted_path(env: Env) -> None:
    cfg = {"input_guardrails": [guard("tests.guardrails.user_checks:NoShouting")]}
    with pytest.raises(openai.BadRequestError) as ei:
        env.chat("hi", cfg)
    assert "unknown check" in ei.value.message


def test_settings_errors_fail_at_start_up_naming_the_field() -> None:
    raw = settings("http://127.0.0.1:9")
    opts = raw["middleware"][1]["options"]
    opts["guardrails"]["broken"] = {
        "checks": [{"id": "default.wordCount", "parameters": {"minWords": 9, "maxWords": 2}}]
    }
    with pytest.raises(SettingsError) as ei:
        Gateway(parse_settings(raw, {}))
    assert "guardrails.broken.checks[0].parameters.minWords/maxWords" in str(ei.value)
    opts["guardrails"]["broken"] = {
        "checks": [{"id": "default.jsonSchema", "parameters": {"schema": {"type": "thing"}}}]
    }
    with pytest.raises(SettingsError, match=r"parameters\.schema: schema\.type"):
        Gateway(parse_settings(raw, {}))
    opts["guardrails"]["broken"] = {"checks": [{"id": "nope.module:Missing"}]}
    with pytest.raises(SettingsError, match="cannot import module"):
        Gateway(parse_settings(raw, {}))


def test_pii_redaction_rewrites_what_the_upstream_sees(env: Env) -> None:
    cfg = {"input_guardrails": ["pii-redact"]}
    text = "I am jane.doe@example.com, card 4111 1111 1111 1111, call +44 20 7946 0958"
    status, body = env.chat(text, cfg)
    assert status == 200
    sent = env.mock.requests[-1]["json"]["messages"][0]["content"]
    assert "jane.doe" not in sent and "4111" not in sent and "7946" not in sent
    assert "[REDACTED_EMAIL]" in sent and "[REDACTED_CREDIT_CARD]" in sent
    assert "[REDACTED_PHONE]" in sent
    hook = body["hook_results"]["before_request_hooks"][0]
    assert hook["transformed"] is True and hook["type"] == "mutator"
    assert hook["checks"][0]["data"]["found"] == {"email": 1, "credit_card": 1, "phone": 1}
    # the answer (an echo) shows the redacted prompt: the original never left the gateway
    assert "jane.doe" not in body["choices"][0]["message"]["content"]


def test_add_prefix_mutates_the_last_user_message(env: Env) -> None:
    cfg = {"input_guardrails": [guard("default.addPrefix", {"prefix": "Be brief. "})]}
    client = env.client(cfg)
    r = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[
            {"role": "system", "content": "sys"},
            {"role": "user", "content": [{"type": "text", "text": "multi part"}]},
        ],
    )
    sent = env.mock.requests[-1]["json"]["messages"]
    assert sent[0] == {"role": "system", "content": "sys"}
    assert sent[1]["content"][0] == {"type": "text", "text": "Be brief. "}
    assert r.choices[0].message.content == "echo: Be brief.  multi part"


def test_secrets_in_the_prompt_are_denied(env: Env) -> None:
    before = env.mock.calls
    key = "AKIA" + "ABCDEFGHIJKLMNOP"
    with pytest.raises(openai.APIStatusError) as ei:
        env.chat(f"my key is {key}", "guarded")
    body = ei.value.response.text
    hooks = _denied(ei.value)["before_request_hooks"]
    assert next(h for h in hooks if h["id"] == "no-secrets")["checks"][0]["data"]["found"] == {
        "aws_access_key": 1
    }
    assert key not in body  # results name the kind of secret, never the value
    assert env.mock.calls == before


def test_model_whitelist_and_metadata_keys(env: Env) -> None:
    cfg = {
        "input_guardrails": [
            guard("default.modelWhitelist", {"models": ["gpt-4o-mini"]}, deny=True),
            guard("default.requiredMetadataKeys", {"metadataKeys": ["team"]}, deny=True),
        ]
    }
    status, _ = env.chat("hi", cfg, x_portkey_metadata='{"team": "a"}')
    assert status == 200
    with pytest.raises(openai.APIStatusError) as ei:
        env.chat("hi", cfg)
    hooks = _denied(ei.value)["before_request_hooks"]
    assert [h["verdict"] for h in hooks] == [True, False]
    with pytest.raises(openai.APIStatusError):
        env.client(cfg, x_portkey_metadata='{"team": "a"}').chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
        )


def test_guardrail_log_line_has_no_text(env: Env, logs) -> None:
    cfg = {"input_guardrails": [guard("default.pii", {}, deny=False)]}
    env.chat("mail me at secret.person@example.org", cfg)
    lines = [x for x in logs() if x.get("event") == "guardrails"]
    assert lines and lines[-1]["phase"] == "input" and lines[-1]["verdict"] is False
    assert lines[-1]["results"][0]["failed_checks"] == ["default.pii"]
    assert all("secret.person" not in json.dumps(x) for x in logs())


def test_unknown_guardrail_in_a_settings_config_fails_at_start_up() -> None:
    from proxy.app import create_app
    from tests.servers import ServerThread

    raw = settings("http://127.0.0.1:9")
    raw["configs"]["broken"] = {"input_guardrails": ["nope"]}
    server = ServerThread(lambda: create_app(parse_settings(raw, {})))
    with pytest.raises(SettingsError, match=r"configs\.broken: input_guardrails\[0\]"):
        server.start()
    server.loop.close()


def test_pii_in_an_earlier_message_is_found(env: Env) -> None:
    before = env.mock.calls
    cfg = {"input_guardrails": [guard("default.pii", {"categories": ["email"]}, deny=True)]}
    with pytest.raises(openai.APIStatusError) as ei:
        env.client(cfg).chat.completions.create(
            model="gpt-4o-mini",
            messages=[
                {"role": "user", "content": "I am ann@example.com"},
                {"role": "assistant", "content": "Hello!"},
                {"role": "user", "content": "what did I say?"},
            ],
        )
    assert ei.value.status_code == 446 and env.mock.calls == before
