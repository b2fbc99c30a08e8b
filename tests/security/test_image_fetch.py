"""Threat: a client's image URL makes the gateway fetch what it should not (metadata
services, internal hosts, a redirect's target), fetch too much, too slowly or too often, or
hand a provider something that is not an image.

Each test is the attacker's request for a provider the gateway fetches images for (Bedrock);
the sink (internal host, redirect target) and the provider must stay silent.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import PROVIDER_KEY
from tests.providers.bedrock.mock import MockBedrock
from tests.security.images import ImageHost, parts
from tests.servers import ServerThread

KEY_ID = "AKIDEXAMPLEBEDROCK01"
MODEL = "amazon.nova-pro-v1:0"


@pytest.fixture
def images() -> Iterator[tuple[ImageHost, ServerThread]]:
    host = ImageHost()
    with ServerThread(host.app) as server:
        yield host, server


@pytest.fixture
def bedrock() -> Iterator[tuple[MockBedrock, ServerThread]]:
    mock = MockBedrock(keys={KEY_ID: (PROVIDER_KEY, None)})
    with ServerThread(mock.app) as server:
        yield mock, server


def ask(gw: Any, upstream: ServerThread, urls: list[str], timeout: float = 30) -> httpx.Response:
    headers = {
        "authorization": f"Bearer {PROVIDER_KEY}",
        "x-portkey-provider": "bedrock",
        "x-portkey-custom-host": upstream.url,
        "x-portkey-aws-access-key-id": KEY_ID,
        "x-portkey-aws-secret-access-key": PROVIDER_KEY,
    }
    body = {"model": MODEL, "messages": [{"role": "user", "content": parts(urls)}]}
    return httpx.post(gw.url + "/v1/chat/completions", json=body, headers=headers, timeout=timeout)


def refused(r: httpx.Response, status: int, code: str, part: int = 1) -> None:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code, err
    assert err["param"] == f"messages[0].content[{part}].image_url.url"


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/x.png",
        "http://100.100.100.200/latest/meta-data/",
        "https://169.254.170.2:443/v2/credentials/x.png",  # the ECS credentials endpoint
    ],
)
def test_metadata_addresses_are_never_fetched(make_gateway, bedrock, url: str) -> None:
    mock, upstream = bedrock
    refused(ask(make_gateway(), upstream, [url]), 403, "custom_host_forbidden")
    assert not mock.requests


def test_a_name_that_resolves_into_a_denied_network_is_not_fetched(
    make_gateway, bedrock, sink
) -> None:
    """DNS decides late: the shared session's resolver drops denied addresses. (Bedrock is
    a settings entry here: settings hosts are the operator's, so its 127.0.0.1 is called.)"""
    mock, upstream = bedrock
    attacker, server = sink
    entry = {
        "provider": "bedrock",
        "custom_host": upstream.url,
        "aws_access_key_id": KEY_ID,
        "aws_secret_access_key": PROVIDER_KEY,
    }
    gw = make_gateway(
        {"providers": {"b": entry}, "custom_hosts": {"deny": ["127.0.0.0/8", "::1/128"]}}
    )
    url = f"http://localhost:{server.port}/internal.png"
    body = {"model": f"@b/{MODEL}", "messages": [{"role": "user", "content": parts([url])}]}
    r = httpx.post(gw.url + "/v1/chat/completions", json=body, timeout=10)
    refused(r, 400, "image_fetch_failed")
    assert attacker.hits == [] and not mock.requests


def test_the_allowlist_applies_to_image_urls(make_gateway, bedrock, sink) -> None:
    mock, upstream = bedrock
    attacker, server = sink
    gw = make_gateway({"custom_hosts": {"allow": ["images.example", "127.0.0.1"]}})
    r = ask(gw, upstream, ["http://images.example/a.png", f"http://localhost:{server.port}/a.png"])
    refused(r, 403, "custom_host_forbidden", part=2)  # checked before anything is fetched
    assert attacker.hits == [] and not mock.requests


@pytest.mark.parametrize("where", ["sink", "metadata"])
def test_a_redirect_is_never_followed(make_gateway, bedrock, images, sink, where: str) -> None:
    mock, upstream = bedrock
    host, server = images
    attacker, trap = sink
    host.redirect_to = trap.url + "/steal.png" if where == "sink" else "http://169.254.169.254/"
    r = ask(make_gateway(), upstream, [server.url + "/redirect.png"])
    refused(r, 400, "image_fetch_failed")
    assert "redirect" in r.json()["error"]["message"]
    assert attacker.hits == [] and not mock.requests


@pytest.mark.parametrize(
    "name,code",
    [
        ("page.html", "unsupported_image_type"),
        ("drawing.svg", "unsupported_image_type"),  # image/*, but script inside
        ("liar.png", "unsupported_image_type"),  # says PNG, is HTML
        ("jpeg-as-png.png", "unsupported_image_type"),  # the bytes must match the label
        ("missing.png", "image_fetch_failed"),
    ],
)
def test_only_images_that_are_what_they_say(make_gateway, bedrock, images, name, code) -> None:
    mock, upstream = bedrock
    _, server = images
    refused(ask(make_gateway(), upstream, [f"{server.url}/{name}"]), 400, code)
    assert not mock.requests


@pytest.mark.parametrize("name", ["huge.png", "bomb.png", "big.png?kb=1500"])
def test_a_huge_image_stops_at_the_limit(make_gateway, bedrock, images, name: str) -> None:
    """30 MB unannounced, a 52 MB gzip bomb (51 KB on the wire), a declared 1.5 MB: all
    stop at max_image_bytes counted on decompressed bytes."""
    mock, upstream = bedrock
    _, server = images
    gw = make_gateway({"image_fetch": {"max_image_bytes": 1024 * 1024}})
    t0 = time.monotonic()
    refused(ask(gw, upstream, [f"{server.url}/{name}"]), 400, "image_too_large")
    assert time.monotonic() - t0 < 5
    assert not mock.requests


def test_the_request_total_is_bounded(make_gateway, bedrock, images) -> None:
    mock, upstream = bedrock
    _, server = images
    gw = make_gateway({"image_fetch": {"max_total_bytes": 2 * 1024 * 1024}})
    urls = [f"{server.url}/big.png?kb=800&n={i}" for i in range(4)]  # each fine, 3.2 MB in all
    r = ask(gw, upstream, urls)
    assert r.status_code == 400 and r.json()["error"]["code"] == "image_too_large", r.text
    assert not mock.requests


def test_a_slow_drip_ends_at_the_timeout(make_gateway, bedrock, images) -> None:
    mock, upstream = bedrock
    _host, server = images
    gw = make_gateway({"image_fetch": {"timeout": 1}})
    t0 = time.monotonic()
    refused(ask(gw, upstream, [server.url + "/drip.png"]), 400, "image_fetch_failed")
    assert 0.9 < time.monotonic() - t0 < 3
    assert not mock.requests


def test_a_thousand_urls_fetch_nothing(make_gateway, bedrock, images) -> None:
    mock, upstream = bedrock
    host, server = images
    urls = [f"{server.url}/cat{i}.png" for i in range(1000)]
    r = ask(make_gateway(), upstream, urls)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "too_many_images"
    assert sum(host.hits.values()) == 0 and not mock.requests


def test_nothing_of_the_client_reaches_the_image_host(make_gateway, bedrock, images) -> None:
    """The image host is the client's choice: it gets a plain GET, no credential of any kind."""
    _mock, upstream = bedrock
    host, server = images
    r = ask(make_gateway(), upstream, [server.url + "/cat.png"])
    assert r.status_code == 200, r.text
    sent = " ".join(f"{k}: {v}" for k, v in host.headers[0].items()).lower()
    assert PROVIDER_KEY.lower() not in sent and KEY_ID.lower() not in sent
    assert not any(k.lower() in ("authorization", "cookie", "x-api-key") for k in host.headers[0])
    assert "x-portkey" not in sent


def test_a_bomb_does_not_stall_the_event_loop(gateway_process, bedrock, images) -> None:
    """Eight 52 MB gzip bombs at once: /health keeps answering while they are refused."""
    _, upstream = bedrock
    _, server = images
    gw = gateway_process({"image_fetch": {"max_image_bytes": 4 * 1024 * 1024}})

    def attack() -> list[int]:
        urls = [f"{server.url}/bomb.png?n={i}" for i in range(8)]
        return [ask(gw, upstream, urls).status_code for _ in range(3)]

    slowest, statuses = gw.health_while(attack)
    assert statuses == [400, 400, 400]
    assert slowest < 1.0, slowest
