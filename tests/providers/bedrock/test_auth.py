"""URL and credentials: SigV4 header shape (checked against the AWS spec), API keys, 401s."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from urllib.parse import quote, urlsplit

import pytest
from yarl import URL

from proxy.errors import GatewayError
from proxy.routing.resolve import settings_target
from proxy.target import Target
from tests.conftest import PROVIDER_KEY
from tests.providers.bedrock.conftest import KEY_ID, SESSION_TOKEN, TEMP_KEY_ID
from tests.providers.bedrock.helpers import ADAPTER, MODEL, body_of

AUTH = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/bedrock/"
    r"aws4_request, SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=(?P<sig>[0-9a-f]{64})$"
)
REQUEST = {"messages": [{"role": "user", "content": "hi"}]}


def build(target: Target, model: str = MODEL, stream: bool = False):
    return ADAPTER.build_request(body_of({**REQUEST, "stream": stream}), target, model)


def spec_signature(method: str, url: str, headers: dict[str, str], body: bytes, secret: str) -> str:
    """SigV4 written out from AWS's specification (independent of botocore)."""
    m = AUTH.match(headers["Authorization"])
    assert m is not None
    parts = urlsplit(url)
    lower = {k.lower(): v for k, v in headers.items()}
    lower.setdefault("host", parts.netloc)
    signed = m["signed"].split(";")
    canonical = "\n".join(
        [
            method,
            quote(parts.path, safe="/~"),  # non-S3 services: the sent path encoded once more
            parts.query,
            "".join(f"{h}:{lower[h].strip()}\n" for h in signed),
            m["signed"],
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{m['date']}/{m['region']}/bedrock/aws4_request"
    to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            lower["x-amz-date"],
            scope,
            hashlib.sha256(canonical.encode()).hexdigest(),
        ]
    )
    key = ("AWS4" + secret).encode()
    for part in (m["date"], m["region"], "bedrock", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def test_sigv4_header_shape_and_signature() -> None:
    target = settings_target(
        provider="bedrock",
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=PROVIDER_KEY,
        aws_region="us-west-2",
        api_key="ignored-when-a-key-pair-is-given",
    )
    up = build(target)
    assert up.url == (
        "https://bedrock-runtime.us-west-2.amazonaws.com/model/"
        "anthropic.claude-3-5-sonnet-20240620-v1:0/converse"
    )
    m = AUTH.match(up.headers["Authorization"])
    assert m is not None, up.headers["Authorization"]
    assert m["key"] == KEY_ID and m["region"] == "us-west-2"
    assert m["signed"] == "content-type;host;x-amz-date"
    amz_date = up.headers["X-Amz-Date"]
    assert re.fullmatch(r"\d{8}T\d{6}Z", amz_date) and amz_date[:8] == m["date"]
    when = dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    assert abs((dt.datetime.now(dt.UTC) - when).total_seconds()) < 60
    assert "X-Amz-Security-Token" not in up.headers
    assert m["sig"] == spec_signature("POST", up.url, up.headers, up.body, PROVIDER_KEY)
    assert PROVIDER_KEY not in repr(up)


def test_session_token_is_sent_and_signed() -> None:
    target = settings_target(
        provider="bedrock",
        aws_access_key_id=TEMP_KEY_ID,
        aws_secret_access_key=PROVIDER_KEY,
        aws_session_token=SESSION_TOKEN,
    )
    up = build(target, stream=True)
    assert up.url.startswith("https://bedrock-runtime.us-east-1.amazonaws.com/")  # default region
    assert up.url.endswith("/converse-stream") and up.framing == "aws-eventstream"
    assert up.headers["X-Amz-Security-Token"] == SESSION_TOKEN
    m = AUTH.match(up.headers["Authorization"])
    assert m is not None and m["signed"] == "content-type;host;x-amz-date;x-amz-security-token"
    assert m["sig"] == spec_signature("POST", up.url, up.headers, up.body, PROVIDER_KEY)


def test_model_ids_and_arns_are_path_safe() -> None:
    arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-haiku"
    target = settings_target(
        provider="bedrock", api_key=PROVIDER_KEY, custom_host="http://proxy:8080/aws/"
    )
    up = build(target, model=arn)
    # the ARN's "/" stays encoded; the URL is already in the form aiohttp will send
    assert up.url == (
        "http://proxy:8080/aws/model/arn:aws:bedrock:us-east-1:123456789012:"
        "inference-profile%2Fus.anthropic.claude-3-haiku/converse"
    )
    assert str(URL(up.url)) == up.url


def test_bedrock_api_key_is_a_bearer_token() -> None:
    up = build(settings_target(provider="bedrock", api_key=PROVIDER_KEY))
    assert up.headers["Authorization"] == f"Bearer {PROVIDER_KEY}"
    assert "X-Amz-Date" not in up.headers


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"aws_access_key_id": KEY_ID},
        {"aws_secret_access_key": PROVIDER_KEY, "api_key": PROVIDER_KEY},
        {"aws_session_token": SESSION_TOKEN},
    ],
)
def test_missing_credentials_is_401(fields) -> None:
    with pytest.raises(GatewayError) as err:
        build(settings_target(provider="bedrock", **fields))
    assert err.value.status == 401
    assert PROVIDER_KEY not in err.value.message


@pytest.mark.parametrize("region", ["evil.example.com/", "us-east-1.attacker.net#", "US EAST"])
def test_region_cannot_change_the_host(region: str) -> None:
    with pytest.raises(GatewayError) as err:
        build(settings_target(provider="bedrock", api_key=PROVIDER_KEY, aws_region=region))
    assert err.value.status == 400 and err.value.param == "x-portkey-aws-region"


@pytest.mark.parametrize(
    ("region", "host"),
    [
        ("eu-central-1", "bedrock-runtime.eu-central-1.amazonaws.com"),
        ("us-gov-west-1", "bedrock-runtime.us-gov-west-1.amazonaws.com"),
        ("cn-north-1", "bedrock-runtime.cn-north-1.amazonaws.com.cn"),
    ],
)
def test_regional_hosts(region: str, host: str) -> None:
    up = build(settings_target(provider="bedrock", api_key=PROVIDER_KEY, aws_region=region))
    assert urlsplit(up.url).netloc == host


@pytest.mark.parametrize("model", ["..", "."])
def test_dot_segments_cannot_be_model_ids(model: str) -> None:
    with pytest.raises(GatewayError) as err:
        build(settings_target(provider="bedrock", api_key=PROVIDER_KEY), model=model)
    assert err.value.status == 400 and err.value.param == "model"
