"""``/v1/*`` pass-through through the real gateway, driven by the official openai SDK.

The upstream is tests/mock_openai_api.py (audio, images, moderations, files in OpenAI's
documented formats). An upload must reach the provider while the client is still sending
it: the client's file blocks half-way until the mock has seen its first megabyte, which a
gateway holding the whole body would never let happen.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
from collections.abc import Iterator

import httpx
import openai
import pytest
from aiohttp import web

from tests.conftest import PROVIDER_KEY, openai_client
from tests.mock_openai_api import MockOpenAIAPI
from tests.servers import ServerThread

MB = 1024 * 1024


@pytest.fixture
def api() -> Iterator[tuple[MockOpenAIAPI, ServerThread]]:
    mock = MockOpenAIAPI()
    with ServerThread(mock.app) as server:
        yield mock, server


class HeldFile(io.RawIOBase):
    """A file that hands out ``size`` bytes, but stops after ``hold_at`` until ``go`` is
    set (or 10 s pass: then ``stalled``). Not seekable: the SDK cannot know its length,
    so the upload is chunked, as a live recording would be."""

    def __init__(self, size: int, hold_at: int, go: threading.Event) -> None:
        self.size, self.hold_at, self.go = size, hold_at, go
        self.pos = 0
        self.stalled = False
        self.digest = hashlib.sha256()
        self.name = "speech.mp3"

    def readable(self) -> bool:
        return True

    def readinto(self, buf: memoryview) -> int:  # type: ignore[override]
        if self.pos >= self.size:
            return 0
        if self.pos >= self.hold_at and not self.go.is_set() and not self.stalled:
            self.stalled = not self.go.wait(10)
        n = min(len(buf), self.size - self.pos, 64 * 1024)
        data = bytes([self.pos // MB % 251]) * n
        buf[:n] = data
        self.digest.update(data)
        self.pos += n
        return n


def test_an_upload_streams_through_before_the_client_finishes(gateway, api, logs) -> None:
    mock, upstream = api
    held = HeldFile(8 * MB, hold_at=4 * MB, go=mock.received)
    client = openai_client(gateway, upstream)
    r = client.audio.transcriptions.create(
        model="gpt-4o-transcribe", file=("speech.mp3", held, "audio/mpeg")
    )
    assert not held.stalled, "the provider saw nothing until the client had sent it all"
    (upload,) = mock.uploads
    assert upload["size"] == 8 * MB and upload["sha256"] == held.digest.hexdigest()
    assert upload["content_type"] == "audio/mpeg"
    assert r.text == "heard 8388608 bytes with gpt-4o-transcribe"
    sent = mock.requests[-1]
    assert sent["headers"]["Authorization"] == f"Bearer {PROVIDER_KEY}"
    assert "Transfer-Encoding" in sent["headers"]  # chunked in, chunked out
    (line,) = [x for x in logs() if x.get("event") == "request"]
    assert line["endpoint"] == "passthrough" and line["status"] == 200
    assert (line["prompt_tokens"], line["completion_tokens"]) == (14, 45)


def test_an_upload_with_a_length_keeps_it(gateway, api) -> None:
    mock, upstream = api
    data = bytes(range(256)) * (3 * MB // 256)
    client = openai_client(gateway, upstream)
    client.audio.transcriptions.create(model="whisper-1", file=("a.wav", data, "audio/wav"))
    assert mock.uploads[-1]["sha256"] == hashlib.sha256(data).hexdigest()
    headers = mock.requests[-1]["headers"]
    assert int(headers["Content-Length"]) > len(data) and "Transfer-Encoding" not in headers


def test_images_moderations_and_speech(gateway, api, logs) -> None:
    mock, upstream = api
    client = openai_client(gateway, upstream)
    img = client.images.generate(model="gpt-image-1", prompt="a red dot", n=2, size="1024x1024")
    assert img.data is not None and len(img.data) == 2 and img.data[0].b64_json
    assert mock.requests[-1]["json"] == {
        "model": "gpt-image-1",
        "prompt": "a red dot",
        "n": 2,
        "size": "1024x1024",
    }
    mod = client.moderations.create(model="omni-moderation-latest", input="I will kill it")
    assert mod.results[0].flagged and mod.results[0].categories.violence
    speech = client.audio.speech.create(model="tts-1", voice="alloy", input="hello")
    assert speech.read() == b"".join(bytes([i]) * 4096 for i in range(8))
    lines = [x for x in logs() if x.get("event") == "request"]
    assert [x["status"] for x in lines] == [200, 200, 200]
    assert (lines[0]["prompt_tokens"], lines[0]["completion_tokens"]) == (50, 50)


def test_files_upload_list_content_delete(gateway, api) -> None:
    mock, upstream = api
    client = openai_client(gateway, upstream)
    jsonl = b'{"custom_id": "1", "method": "POST", "url": "/v1/chat/completions"}\n' * 1000
    f = client.files.create(file=("batch.jsonl", jsonl), purpose="batch")
    assert f.id == "file-mock1" and f.bytes == len(jsonl) and f.purpose == "batch"
    listed = client.files.list(purpose="batch")
    assert [x.id for x in listed.data] == ["file-mock1"]
    assert mock.requests[-1]["query"] == "purpose=batch"
    content = client.files.with_raw_response.content("file-mock1")
    assert content.content == b'{"file": "file-mock1"}\n' * 3
    assert content.headers["content-disposition"] == 'attachment; filename="file-mock1.jsonl"'
    assert client.files.delete("file-mock1").deleted is True
    with pytest.raises(openai.NotFoundError):
        client.files.delete("file-mock1")
    assert [r["method"] for r in mock.requests] == ["POST", "GET", "GET", "DELETE", "DELETE"]


def test_gateway_auth_applies(make_gateway, api) -> None:
    mock, upstream = api
    gw = make_gateway(
        {
            "middleware": [
                {
                    "class": "middleware.auth:AuthMiddleware",
                    "options": {"keys": [{"key": "gw-test-key-0002", "name": "team"}]},
                },
                {"class": "middleware.router:RouterMiddleware"},
            ]
        }
    )
    anon = openai_client(gw, upstream)
    with pytest.raises(openai.AuthenticationError):
        anon.images.generate(model="dall-e-3", prompt="x")
    with pytest.raises(openai.AuthenticationError):
        anon.audio.transcriptions.create(model="whisper-1", file=("a.wav", b"x" * MB))
    assert mock.requests == [] and mock.uploads == []
    ok = openai_client(gw, upstream, x_portkey_api_key="gw-test-key-0002")
    assert ok.images.generate(model="dall-e-3", prompt="x").data
    assert mock.requests[-1]["headers"]["Authorization"] == f"Bearer {PROVIDER_KEY}"


def test_what_goes_back_and_forth_besides_the_body(gateway, api) -> None:
    mock, upstream = api
    r = httpx.post(
        gateway.url + "/v1/echo/a:b/c?x=1&y=%20z",
        content=b"raw bytes",
        headers={
            "authorization": f"Bearer {PROVIDER_KEY}",
            "x-portkey-provider": "openai",
            "x-portkey-custom-host": upstream.url + "/v1",
            "x-portkey-metadata": '{"team": "a"}',
            "content-type": "application/x-thing",
            "cookie": "client-session=1",
            "x-api-key": "not-for-upstream",
            "openai-beta": "assistants=v2",
        },
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"path": "/v1/echo/a:b/c", "query": "x=1&y=%20z", "bytes": 9}
    sent = {k.lower(): v for k, v in mock.requests[-1]["headers"].items()}
    assert sent["content-type"] == "application/x-thing" and sent["openai-beta"] == "assistants=v2"
    assert not {"cookie", "x-api-key", "x-portkey-metadata", "x-portkey-provider"} & set(sent)
    assert r.headers["x-upstream-request-id"] == "req_mock"
    assert "set-cookie" not in r.headers and "openai-organization" not in r.headers
    assert r.headers["x-portkey-provider"] == "openai"


def test_a_settings_slug_routes_a_json_body(make_gateway, api) -> None:
    mock, upstream = api
    gw = make_gateway(
        {
            "providers": {
                "img": {
                    "provider": "openai",
                    "api_key": "sk-settings-key-0003",
                    "custom_host": upstream.url + "/v1",
                    "passthrough": ["images/generations", "audio"],
                }
            }
        }
    )
    client = openai.OpenAI(api_key="unused", base_url=gw.url + "/v1", max_retries=0)
    client.images.generate(model="@img/gpt-image-1", prompt="x")
    sent = mock.requests[-1]
    assert sent["json"] == {"model": "gpt-image-1", "prompt": "x"}
    assert sent["headers"]["Authorization"] == "Bearer sk-settings-key-0003"
    # a multipart upload names its provider in a config: the model field is the provider's
    cfg = json.dumps({"virtual_key": "img"})
    up = openai.OpenAI(
        api_key="unused",
        base_url=gw.url + "/v1",
        max_retries=0,
        default_headers={"x-portkey-config": cfg},
    )
    up.audio.transcriptions.create(model="whisper-1", file=("a.wav", b"x" * 1000))
    assert mock.requests[-1]["headers"]["Authorization"] == "Bearer sk-settings-key-0003"


def test_a_gateway_held_key_serves_only_the_paths_settings_open(make_gateway, api) -> None:
    mock, upstream = api
    entry = {"provider": "openai", "api_key": "sk-settings-key-0003"}
    entry["custom_host"] = upstream.url + "/v1"
    gw = make_gateway(
        {
            "providers": {"chat-only": entry, "img": {**entry, "passthrough": ["images"]}},
            "configs": {"files": {"virtual_key": "img"}},
        }
    )
    client = openai.OpenAI(api_key="unused", base_url=gw.url + "/v1", max_retries=0)
    with pytest.raises(openai.PermissionDeniedError) as ei:
        client.images.generate(model="@chat-only/dall-e-3", prompt="x")
    assert ei.value.response.json()["error"]["code"] == "passthrough_forbidden"
    assert client.images.generate(model="@img/dall-e-3", prompt="x").data
    # the same key cannot list the account's files: "images" opens images/* only
    files = client.with_options(default_headers={"x-portkey-config": "files"}).files
    with pytest.raises(openai.PermissionDeniedError):
        files.list()
    with pytest.raises(openai.PermissionDeniedError):  # a prefix is whole segments
        client.post("/imagesx", cast_to=object, body={"model": "@img/x"})
    assert [r["path"] for r in mock.requests] == ["/v1/images/generations"]
    # a client's own key is its own account: anywhere under the API
    own = openai_client(gw, upstream)
    assert own.files.list().data == []


def test_azure_paths(gateway, api) -> None:
    mock, upstream = api
    client = openai.OpenAI(
        api_key=PROVIDER_KEY,
        base_url=gateway.url + "/v1",
        max_retries=0,
        default_headers={
            "x-portkey-provider": "azure-openai",
            "x-portkey-custom-host": upstream.url + "/openai",
            "x-portkey-azure-deployment-id": "whisper-dep",
        },
    )
    client.audio.transcriptions.create(model="whisper", file=("a.wav", b"x" * 1000))
    sent = mock.requests[-1]
    assert sent["path"] == "/openai/deployments/whisper-dep/audio/transcriptions"
    assert sent["query"] == "api-version=2024-10-21" and sent["headers"]["api-key"] == PROVIDER_KEY
    client.files.list(extra_query={"api-version": "1999-01-01"})
    sent = mock.requests[-1]
    assert sent["path"] == "/openai/files" and sent["query"] == "api-version=2024-10-21"


def test_azure_needs_a_deployment_for_a_multipart_upload(gateway, api) -> None:
    _, upstream = api
    client = openai.OpenAI(
        api_key=PROVIDER_KEY,
        base_url=gateway.url + "/v1",
        max_retries=0,
        default_headers={
            "x-portkey-provider": "azure-openai",
            "x-portkey-custom-host": upstream.url + "/openai",
        },
    )
    with pytest.raises(openai.BadRequestError) as ei:
        client.audio.transcriptions.create(model="whisper", file=("a.wav", b"x"))
    assert ei.value.response.json()["error"]["code"] == "missing_azure_deployment"


def test_other_providers_get_a_clear_400(gateway) -> None:
    client = openai.OpenAI(
        api_key=PROVIDER_KEY,
        base_url=gateway.url + "/v1",
        max_retries=0,
        default_headers={"x-portkey-provider": "anthropic"},
    )
    with pytest.raises(openai.BadRequestError) as ei:
        client.images.generate(model="x", prompt="y")
    err = ei.value.response.json()["error"]
    assert err["code"] == "unsupported_endpoint" and "anthropic" in err["message"]


def test_the_specific_doors_keep_their_routes(gateway, mock_openai, api) -> None:
    _, chat_upstream = mock_openai
    api_mock, upstream = api
    chat = openai_client(gateway, chat_upstream).chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hi"}]
    )
    assert chat.choices[0].message.content == "echo: hi" and api_mock.requests == []
    r = httpx.get(gateway.url + "/v1/models")  # the catalog, no upstream
    assert r.status_code == 200 and r.json()["object"] == "list"
    r = httpx.get(
        gateway.url + "/v1/echo/models/gpt-4o",
        headers={"x-portkey-provider": "openai", "x-portkey-custom-host": upstream.url + "/v1"},
    )
    assert r.status_code == 401  # no key: the provider's key is required


def test_an_answer_that_breaks_off_is_not_passed_as_complete(gateway) -> None:
    """Headers are gone when the provider's body breaks: the client's connection is cut, so
    it sees a broken transfer rather than a short file that looks whole."""

    async def broken(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "audio/mpeg"})
        await resp.prepare(request)
        await resp.write(b"\1" * 100_000)
        assert request.transport is not None
        request.transport.close()  # no final chunk
        return resp

    def app() -> web.Application:
        a = web.Application()
        a.router.add_post("/v1/audio/speech", broken)
        return a

    with ServerThread(app) as up:
        headers = {"x-portkey-provider": "openai", "x-portkey-custom-host": up.url + "/v1"}
        c = openai.OpenAI(
            api_key=PROVIDER_KEY, base_url=gateway.url + "/v1", default_headers=headers,
            max_retries=0,
        )  # fmt: skip
        with pytest.raises(openai.APIConnectionError):  # the SDK names a broken transfer
            c.audio.speech.create(model="tts-1", voice="alloy", input="x").read()
