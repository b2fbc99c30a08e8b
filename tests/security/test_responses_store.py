"""Threats on the Responses API's new inputs: response ids (in paths and in
``previous_response_id``), ``store`` and what the gateway stores.

Each test is the attacker's request; the victim's data, the upstream or the attacker's
sink must stay silent, and the answer must be a clean 4xx:

- another tenant reads, lists, deletes or continues a stored response by its id;
- an id in the path reaches another upstream endpoint with the gateway's credential;
- a gateway-held credential follows a client-chosen host on GET/DELETE;
- a client fills the store (entries, bytes) or sends an id that costs work;
- a stored entry or an error holds a credential or says whether an id exists elsewhere;
- an upstream's answer that is not a Response is relayed as one.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import PROVIDER_KEY
from tests.mock_openai_responses import MockResponses
from tests.providers.anthropic.mock import MockAnthropic
from tests.servers import ServerThread

OTHER_KEY = "sk-other-tenant-key-9999"
SETTINGS_KEY = "sk-settings-key-0003"


@pytest.fixture
def claude() -> Any:
    mock = MockAnthropic()
    with ServerThread(mock.app) as server:
        yield mock, server


@pytest.fixture
def openai_mock() -> Any:
    mock = MockResponses()
    with ServerThread(mock.app) as server:
        yield mock, server


def client(
    gw: ServerThread, upstream: ServerThread, key: str, provider: str = "anthropic", **h: str
) -> openai.OpenAI:
    headers = {"x-portkey-provider": provider, "x-portkey-custom-host": upstream.url + "/v1", **h}
    return openai.OpenAI(
        api_key=key, base_url=gw.url + "/v1", default_headers=headers, max_retries=0
    )


def raw(gw: ServerThread, method: str, path: str, headers: dict[str, str]) -> httpx.Response:
    return httpx.request(method, gw.url + path, headers=headers, timeout=10)


def test_another_tenant_cannot_read_list_delete_or_continue(
    make_gateway, claude, openai_mock
) -> None:
    mock, upstream = claude
    gw = make_gateway()
    victim = client(gw, upstream, PROVIDER_KEY)
    secret = victim.responses.create(model="claude-x", input="my diagnosis is private")
    attacker = client(gw, upstream, OTHER_KEY)
    calls = len(mock.requests)
    for attempt in (
        lambda: attacker.responses.retrieve(secret.id),
        lambda: attacker.responses.input_items.list(secret.id),
        lambda: attacker.responses.delete(secret.id),
    ):
        with pytest.raises(openai.NotFoundError) as err:
            attempt()
        assert "private" not in err.value.response.text
    with pytest.raises(openai.BadRequestError) as err:
        attacker.responses.create(model="claude-x", input="repeat", previous_response_id=secret.id)
    assert err.value.code == "previous_response_not_found"
    # continuing through an OpenAI-native target does not reach the store's data either
    oa_mock, oa_upstream = openai_mock
    with pytest.raises(openai.BadRequestError):
        client(gw, oa_upstream, OTHER_KEY, provider="openai").responses.create(
            model="gpt-4.1", input="repeat", previous_response_id=secret.id
        )
    assert len(mock.requests) == calls and not oa_mock.requests  # nothing went upstream
    assert victim.responses.retrieve(secret.id).output_text.endswith("private")  # still there


def test_not_found_says_the_same_for_foreign_and_missing_ids(make_gateway, claude) -> None:
    _, upstream = claude
    gw = make_gateway()
    mine = client(gw, upstream, PROVIDER_KEY).responses.create(model="claude-x", input="x")
    h = {"authorization": f"Bearer {OTHER_KEY}"}
    foreign = raw(gw, "GET", f"/v1/responses/{mine.id}", h)
    missing_id = "resp_gw" + "0" * 32
    missing = raw(gw, "GET", f"/v1/responses/{missing_id}", h)
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["error"] == {
        **missing.json()["error"],
        "message": missing.json()["error"]["message"].replace(missing_id, mine.id),
    }


def test_gateway_key_principals_scope_the_store(make_gateway, claude) -> None:
    """With gateway keys, two callers sharing the operator's provider key stay apart."""
    _, upstream = claude
    settings = {
        "middleware": [
            {
                "class": "middleware.auth:AuthMiddleware",
                "options": {
                    "keys": [
                        {"key": "gw-alice-1", "name": "alice"},
                        {"key": "gw-bob-2", "name": "bob"},
                    ]
                },
            },
            {"class": "middleware.router:RouterMiddleware"},
        ],
        "providers": {
            "claude": {
                "provider": "anthropic",
                "api_key": SETTINGS_KEY,
                "custom_host": upstream.url + "/v1",
            }
        },
    }
    gw = make_gateway(settings)
    alice = openai.OpenAI(api_key="gw-alice-1", base_url=gw.url + "/v1", max_retries=0)
    bob = openai.OpenAI(api_key="gw-bob-2", base_url=gw.url + "/v1", max_retries=0)
    r = alice.responses.create(model="@claude/claude-x", input="alice only")
    assert alice.responses.retrieve(r.id).id == r.id
    with pytest.raises(openai.NotFoundError):
        bob.responses.retrieve(r.id)
    with pytest.raises(openai.BadRequestError):
        bob.responses.create(model="@claude/claude-x", input="x", previous_response_id=r.id)
    anonymous = raw(gw, "GET", f"/v1/responses/{r.id}", {})
    assert anonymous.status_code == 401  # auth runs before the store is asked


@pytest.mark.parametrize(
    "path",
    [
        "/v1/responses/%2e%2e",
        "/v1/responses/..%2f..%2fchat%2fcompletions",
        "/v1/responses/resp_1%2f..%2f..%2ffiles",
        "/v1/responses/resp_1%3fapi-version=x",
        "/v1/responses/resp_1%23frag",
        "/v1/responses/resp%20space",
        "/v1/responses/" + "a" * 300,
        "/v1/responses/resp_1%00",
    ],
)
def test_path_ids_cannot_reach_another_endpoint(make_gateway, openai_mock, path: str) -> None:
    mock, upstream = openai_mock
    gw = make_gateway()
    h = {
        "authorization": f"Bearer {PROVIDER_KEY}",
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": upstream.url + "/v1",
    }
    for method in ("GET", "DELETE"):
        r = httpx.request(method, gw.url + path, headers=h, timeout=10)
        assert r.status_code in (400, 404), r.text
        assert r.json()["error"]["message"]
    assert not mock.requests  # nothing reached the upstream


def test_a_held_credential_does_not_follow_a_client_host(make_gateway, openai_mock, sink) -> None:
    _, legit = openai_mock
    trap, trap_server = sink
    gw = make_gateway(
        {
            "providers": {
                "plain": {
                    "provider": "openai",
                    "api_key": SETTINGS_KEY,
                    "custom_host": legit.url + "/v1",
                }
            },
            "configs": {"ops": {"virtual_key": "plain"}},
        }
    )
    h = {"x-portkey-config": "ops", "x-portkey-custom-host": trap_server.url + "/v1"}
    for method, path in (
        ("GET", "/v1/responses/resp_abc123"),
        ("DELETE", "/v1/responses/resp_abc123"),
        ("GET", "/v1/responses/resp_abc123/input_items"),
    ):
        r = raw(gw, method, path, h)
        assert r.status_code == 403 and r.json()["error"]["code"] == "credential_binding"
    r = httpx.post(gw.url + "/v1/responses", json={"model": "gpt-4.1", "input": "x"}, headers=h)
    assert r.status_code == 403
    assert not trap.hits and not trap.secrets_seen(SETTINGS_KEY)


def test_the_store_stays_bounded_under_a_flood(make_gateway, claude) -> None:
    _, upstream = claude
    gw = make_gateway(
        {"responses": {"max_entries": 5, "max_entry_bytes": 4096, "max_bytes": 20_000}}
    )
    c = client(gw, upstream, PROVIDER_KEY)
    ids = [c.responses.create(model="claude-x", input=f"n{i}").id for i in range(20)]
    kept = 0
    for rid in ids:
        try:
            c.responses.retrieve(rid)
            kept += 1
        except openai.NotFoundError:
            pass
    assert kept == 5  # the newest five; the rest were pushed out
    big = c.responses.create(model="claude-x", input="z" * 8000)  # answered, too big to keep
    assert big.output_text.startswith("echo: zzz")
    with pytest.raises(openai.NotFoundError):
        c.responses.retrieve(big.id)


def test_a_huge_previous_response_id_is_refused_before_any_lookup(make_gateway, claude) -> None:
    mock, upstream = claude
    gw = make_gateway()
    body = {"model": "claude-x", "input": "x", "previous_response_id": "resp_gw" + "a" * 1_000_000}
    r = httpx.post(
        gw.url + "/v1/responses",
        json=body,
        headers={
            "authorization": f"Bearer {PROVIDER_KEY}",
            "x-portkey-provider": "anthropic",
            "x-portkey-custom-host": upstream.url + "/v1",
        },
        timeout=10,
    )
    assert r.status_code == 400 and r.json()["error"]["param"] == "previous_response_id"
    assert not mock.requests


def test_an_answer_that_is_not_a_response_is_a_502(make_gateway, sink) -> None:
    """The sink answers every path with a chat completion: not a Response object."""
    _, server = sink
    gw = make_gateway()
    c = openai.OpenAI(
        api_key=PROVIDER_KEY,
        base_url=gw.url + "/v1",
        max_retries=0,
        default_headers={
            "x-portkey-provider": "openai",
            "x-portkey-custom-host": server.url + "/v1",
        },
    )
    with pytest.raises(openai.APIStatusError) as err:
        c.responses.create(model="gpt-4.1", input="x")
    assert err.value.status_code == 502
    assert "stolen" not in err.value.response.text


def test_store_false_keeps_nothing(make_gateway, claude) -> None:
    _, upstream = claude
    gw = make_gateway()
    c = client(gw, upstream, PROVIDER_KEY)
    r = c.responses.create(model="claude-x", input="forget me", store=False)
    with pytest.raises(openai.NotFoundError):
        c.responses.retrieve(r.id)
    bad = httpx.post(
        gw.url + "/v1/responses",
        content=json.dumps({"model": "claude-x", "input": "x", "store": "sometimes"}),
        headers={"authorization": f"Bearer {PROVIDER_KEY}", "content-type": "application/json"},
    )
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "store"
