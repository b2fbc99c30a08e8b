"""Claude Code against the gateway: a recorded request, and the real CLI.

The recorded request (``fixtures/claude_code_2.1.197.json``: Claude Code 2.1.197 against a
mock, second turn of an agent loop) is what Claude Code sends: ``?beta=true``, eight
betas, adaptive thinking and an effort, context_management, a system message in the middle
of the conversation, a JSON ``metadata.user_id``, 25 tools with large schemas, cache_control
on system blocks and tool results, max_tokens 64000, model claude-opus-4-8. Replayed to
every provider, each upstream must get a body it accepts: Anthropic the bytes as sent, the
others a clean translation.

The live tests install Claude Code from npm into the venv (once; bounded in time), run
``claude -p ... --output-format json`` with ``ANTHROPIC_BASE_URL`` at the gateway and the
routing headers in ``ANTHROPIC_CUSTOM_HEADERS``, to a non-Anthropic provider, plain and in
an agent loop (the model asks for the Read tool, Claude Code runs it, the answer quotes the
file). Without npm the live tests skip, except in CI (``CI=true``), where they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import PROVIDER_KEY
from tests.frontdoors.messages.conftest import route
from tests.frontdoors.messages.test_golden import check_sequence, events

RECORDED = json.loads((Path(__file__).parent / "fixtures" / "claude_code_2.1.197.json").read_text())
VERSION = "2.1.197"  # the version recorded; pinned so the test means the same everywhere
INSTALL_SECONDS = 600


def keys(value: Any) -> set[str]:
    """Every object key anywhere in a JSON value."""
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys(v)}
    return set()


def replay(
    gw_url: str, headers: dict[str, str], body: dict[str, Any] | None = None
) -> httpx.Response:
    raw = json.dumps(body or RECORDED["body"]).encode()
    h = {
        **RECORDED["headers"],
        **headers,
        "x-api-key": PROVIDER_KEY,
        "content-type": "application/json",
    }
    return httpx.post(gw_url + RECORDED["path"], content=raw, headers=h, timeout=30)


def test_recorded_request_to_anthropic_is_relayed_as_sent(make_gateway, mock_anthropic) -> None:
    mock, upstream = mock_anthropic
    gw = make_gateway()
    raw = json.dumps(RECORDED["body"]).encode()
    h = {**RECORDED["headers"], **route("anthropic", upstream), "x-api-key": PROVIDER_KEY}
    r = httpx.post(gw.url + RECORDED["path"], content=raw, headers=h, timeout=30)
    assert r.status_code == 200, r.text
    check_sequence(events(r.content))
    got = mock.requests[-1]
    assert got["raw"] == raw
    assert got["query"] == {"beta": "true"}
    assert got["headers"]["anthropic-beta"] == RECORDED["headers"]["anthropic-beta"]
    assert len(got["headers"]["anthropic-beta"].split(",")) == 8


def test_recorded_request_to_openai_is_translated_cleanly(make_gateway, mock_openai) -> None:
    mock, upstream = mock_openai
    gw = make_gateway()
    r = replay(gw.url, route("openai", upstream))
    assert r.status_code == 200, r.text
    check_sequence(events(r.content))
    body = mock.requests[-1]["json"]
    assert set(body) == {
        "model",
        "messages",
        "max_completion_tokens",
        "stream",
        "stream_options",
        "user",
        "tools",
    }
    assert body["model"] == "claude-opus-4-8" and body["max_completion_tokens"] == 64000
    assert len(body["user"]) == 64  # the JSON user_id, hashed
    assert len(body["tools"]) == 25
    assert all(set(t) == {"type", "function"} for t in body["tools"])
    names = keys(body["messages"]) | keys([t["function"].get("description") for t in body["tools"]])
    assert not names & {"cache_control", "context_management", "thinking", "signature"}
    roles = [m["role"] for m in body["messages"]]
    assert roles == ["system", "user", "system", "assistant", "tool"]
    assert body["messages"][3]["tool_calls"][0]["function"]["name"] == "Agent"
    assert body["messages"][4]["tool_call_id"] == body["messages"][3]["tool_calls"][0]["id"]


@pytest.mark.parametrize(
    ("provider", "model"),
    [
        ("google", "gemini-2.5-pro"),
        ("bedrock", "amazon.nova-pro-v1:0"),
        ("bedrock", "us.anthropic.claude-opus-4-8-v1:0"),
        ("vertex-ai", "claude-opus-4-8"),
    ],
)
def test_recorded_request_to_other_providers(
    make_gateway, mock_gemini, mock_bedrock, mock_anthropic, provider, model
) -> None:
    mocks = {"google": mock_gemini, "bedrock": mock_bedrock, "vertex-ai": mock_anthropic}
    mock, upstream = mocks[provider]
    gw = make_gateway()
    r = replay(gw.url, route(provider, upstream), {**RECORDED["body"], "model": model})
    assert r.status_code == 200, r.text
    check_sequence(events(r.content))
    sent = mock.requests[-1]["json"]
    if provider == "google":
        assert len(sent["tools"][0]["functionDeclarations"]) == 25
    elif model.startswith("amazon."):
        assert len(sent["toolConfig"]["tools"]) == 25
    else:  # Claude on Bedrock or Vertex: the client's body, in the host's dialect
        assert sent["context_management"] == RECORDED["body"]["context_management"]
        assert sent["tools"] == RECORDED["body"]["tools"]


# ---------------------------------------------------------------- the real CLI


def claude_binary() -> Path:
    """Claude Code from npm, installed once into the venv; skips (or fails in CI) without npm."""
    home = Path(sys.prefix) / "claude-code" / VERSION
    package = home / "node_modules" / "@anthropic-ai" / "claude-code"
    native = package / "bin" / "claude.exe"
    if not native.exists() or native.stat().st_size < 1_000_000:
        npm = shutil.which("npm")
        if npm is None:
            if os.environ.get("CI") == "true":
                pytest.fail("npm is required in CI to install Claude Code")
            pytest.skip("npm is not installed: Claude Code cannot be installed")
        home.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [npm, "install", "--prefix", str(home), "--no-audit", "--no-fund", "--no-save",
             f"@anthropic-ai/claude-code@{VERSION}"],
            check=True,
            timeout=INSTALL_SECONDS,
            capture_output=True,
        )  # fmt: skip
    if native.exists() and native.stat().st_size >= 1_000_000:
        return native  # the postinstall put the platform's binary in place
    return package / "cli-wrapper.cjs"  # npm ran no install scripts: the wrapper finds it


@pytest.fixture(scope="module")
def claude() -> Path:
    return claude_binary()


def run_claude(
    claude: Path, gw_url: str, headers: dict[str, str], prompt: str, cwd: Path, **extra: str
) -> dict[str, Any]:
    home = cwd / "home"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": gw_url,
        "ANTHROPIC_API_KEY": PROVIDER_KEY,
        "ANTHROPIC_CUSTOM_HEADERS": "\n".join(f"{k}: {v}" for k, v in headers.items()),
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_TELEMETRY": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        **extra,
    }
    cmd = [str(claude)] if claude.suffix != ".cjs" else ["node", str(claude)]
    done = subprocess.run(
        [*cmd, "-p", prompt, "--output-format", "json"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-2000:])
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.mark.slow
@pytest.mark.parametrize("provider", ["openai", "google"])
def test_claude_code_answers_through_another_provider(
    claude, make_gateway, mock_openai, mock_gemini, tmp_path, provider
) -> None:
    mock, upstream = mock_openai if provider == "openai" else mock_gemini
    gw = make_gateway()
    out = run_claude(claude, gw.url, route(provider, upstream), "say hi", tmp_path)
    assert out["is_error"] is False and out["subtype"] == "success"
    assert out["result"].startswith("echo: ") and out["result"].endswith("say hi")
    assert out["usage"]["input_tokens"] > 0 and out["usage"]["output_tokens"] > 0
    assert len(mock.requests) == 1


@pytest.mark.slow
@pytest.mark.parametrize("provider", ["openai", "google", "anthropic"])
def test_claude_code_agent_loop(
    claude, make_gateway, mock_openai, mock_gemini, mock_anthropic, tmp_path, provider
) -> None:
    """The model asks for Read; Claude Code runs it and sends the result back (through
    OpenAI and Gemini translated, through Anthropic natively)."""
    mocks = {"openai": mock_openai, "google": mock_gemini, "anthropic": mock_anthropic}
    mock, upstream = mocks[provider]
    note = tmp_path / "note.txt"
    note.write_text("the secret word is pelican\n")
    gw = make_gateway()
    prompt = "call Read " + json.dumps({"file_path": str(note)})
    out = run_claude(claude, gw.url, route(provider, upstream), prompt, tmp_path)
    assert out["is_error"] is False and out["num_turns"] == 2
    assert "pelican" in out["result"]
    assert len(mock.requests) == 2
    if provider == "anthropic":  # relayed as Claude Code sent it: its betas, ?beta=true
        assert mock.requests[-1]["query"] == {"beta": "true"}
        assert "claude-code-20250219" in mock.requests[-1]["headers"]["anthropic-beta"]


@pytest.mark.slow
def test_claude_code_routed_by_its_model_setting(
    claude, make_gateway, mock_openai, tmp_path
) -> None:
    """No provider header: ANTHROPIC_MODEL names it (``@openai/gpt-4o``), and Claude Code's
    own output bound (CLAUDE_CODE_MAX_OUTPUT_TOKENS) fits the target model."""
    mock, upstream = mock_openai
    gw = make_gateway()
    host = {"x-portkey-custom-host": upstream.url + "/v1"}
    out = run_claude(
        claude,
        gw.url,
        host,
        "say hi",
        tmp_path,
        ANTHROPIC_MODEL="@openai/gpt-4o",
        CLAUDE_CODE_MAX_OUTPUT_TOKENS="16384",
    )
    assert out["is_error"] is False and out["result"].endswith("say hi")
    sent = mock.requests[-1]["json"]
    assert (sent["model"], sent["max_completion_tokens"]) == ("gpt-4o", 16384)
