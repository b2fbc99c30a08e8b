"""POST /v1/embeddings on Bedrock: InvokeModel with Titan Text Embeddings and Cohere Embed.

boto3's ``invoke_model`` proves the mock's InvokeModel route (SigV4 checked in full); then
the openai SDK goes through the real gateway: the native bodies each call carried, the
SigV4 header, float and base64 answers, ``dimensions``, usage, and errors with their status.
"""

from __future__ import annotations

import base64
import json
import re
import struct

import openai
import pytest

from tests.conftest import PROVIDER_KEY, GatewayFactory
from tests.providers.bedrock.conftest import KEY_ID, REGION, BedrockClient
from tests.providers.bedrock.mock import MockBedrock
from tests.providers.bedrock.mock_invoke import vector
from tests.providers.bedrock.test_mock_sdk import client as boto_client
from tests.servers import ServerThread

TITAN = "amazon.titan-embed-text-v2:0"
COHERE = "cohere.embed-english-v3"
SIGV4 = re.compile(
    rf"^AWS4-HMAC-SHA256 Credential={KEY_ID}/\d{{8}}/{REGION}/bedrock/aws4_request, "
    r"SignedHeaders=[a-z0-9;-]*host;x-amz-date[a-z0-9;-]*, Signature=[0-9a-f]{64}$"
)
Mock = tuple[MockBedrock, ServerThread]


def _invokes(mock: MockBedrock) -> list[dict]:
    return [r for r in mock.requests if r.get("invoke")]


def test_boto3_invoke_model_titan_and_cohere(mock_bedrock: Mock) -> None:
    mock, upstream = mock_bedrock
    sdk = boto_client(upstream.url)
    r = sdk.invoke_model(
        modelId=TITAN,
        body=json.dumps({"inputText": "hello there", "dimensions": 256}),
        contentType="application/json",
        accept="application/json",
    )
    answer = json.loads(r["body"].read())
    assert answer["embedding"] == pytest.approx(vector("hello there", 256))
    assert answer["inputTextTokenCount"] == 2
    r = sdk.invoke_model(
        modelId=COHERE, body=json.dumps({"texts": ["a", "b c"], "input_type": "search_query"})
    )
    answer = json.loads(r["body"].read())
    assert [len(e) for e in answer["embeddings"]] == [1024, 1024]
    assert r["ResponseMetadata"]["HTTPHeaders"]["x-amzn-bedrock-input-token-count"] == "3"
    assert _invokes(mock)[0]["raw_path"] == "/model/amazon.titan-embed-text-v2%3A0/invoke"


def test_titan_through_the_gateway(bedrock_client: BedrockClient, mock_bedrock: Mock) -> None:
    mock, _ = mock_bedrock
    client = bedrock_client()
    r = client.embeddings.create(
        model=TITAN, input=["one", "two words", "three more words"], encoding_format="float"
    )
    assert [d.index for d in r.data] == [0, 1, 2]
    assert r.data[1].embedding == pytest.approx(vector("two words", 1024))
    assert r.usage.prompt_tokens == 6 and r.usage.total_tokens == 6
    assert r.model == TITAN
    calls = _invokes(mock)
    assert len(calls) == 3  # Titan takes one text per call
    assert sorted(c["json"]["inputText"] for c in calls) == ["one", "three more words", "two words"]
    assert all(c["json"] == {"inputText": c["json"]["inputText"]} for c in calls)
    for c in calls:
        assert c["raw_path"] == "/model/amazon.titan-embed-text-v2:0/invoke"  # as for Converse
        assert SIGV4.match(c["headers"]["Authorization"]), c["headers"]["Authorization"]
        assert re.fullmatch(r"\d{8}T\d{6}Z", c["headers"]["X-Amz-Date"])


def test_titan_dimensions_and_base64(bedrock_client: BedrockClient, mock_bedrock: Mock) -> None:
    mock, _ = mock_bedrock
    client = bedrock_client()
    raw = client.embeddings.with_raw_response.create(
        model=TITAN, input="short", dimensions=256, encoding_format="base64"
    )
    body = json.loads(raw.text)
    packed = base64.b64decode(body["data"][0]["embedding"])
    assert list(struct.unpack("<256f", packed)) == pytest.approx(vector("short", 256), abs=1e-6)
    assert _invokes(mock)[-1]["json"] == {"inputText": "short", "dimensions": 256}
    assert raw.headers["x-portkey-provider"] == "bedrock"
    # the SDK's default (base64) decodes to the same floats
    r = client.embeddings.create(model=TITAN, input="short", dimensions=256)
    assert r.data[0].embedding == pytest.approx(vector("short", 256), abs=1e-6)


def test_cohere_through_the_gateway_with_an_api_key(
    bedrock_client: BedrockClient, mock_bedrock: Mock
) -> None:
    mock, _ = mock_bedrock
    client = bedrock_client(sigv4=False)
    texts = [f"text {i}" for i in range(100)]
    r = client.embeddings.create(model=COHERE, input=texts, encoding_format="float")
    assert len(r.data) == 100 and r.data[99].index == 99
    assert r.data[99].embedding == pytest.approx(vector("text 99", 1024))
    assert r.usage.prompt_tokens == 200
    calls = _invokes(mock)
    assert [len(c["json"]["texts"]) for c in calls] in ([96, 4], [4, 96])  # 96 a call at most
    first = next(c for c in calls if len(c["json"]["texts"]) == 96)
    assert first["json"] == {"texts": texts[:96], "input_type": "search_document"}
    assert first["headers"]["Authorization"] == f"Bearer {PROVIDER_KEY}"


@pytest.mark.parametrize("status", [400, 401, 429, 500])
def test_errors_keep_their_status(
    bedrock_client: BedrockClient, mock_bedrock: Mock, status: int
) -> None:
    client = bedrock_client()
    with pytest.raises(openai.APIStatusError) as exc:
        client.embeddings.create(model=f"error-{status}-{TITAN}", input=["a", "b"])
    assert exc.value.status_code == status
    assert f"mock failure {status}" in exc.value.message


def test_one_failed_call_fails_the_request(
    bedrock_client: BedrockClient, mock_bedrock: Mock
) -> None:
    mock, _ = mock_bedrock
    client = bedrock_client()
    texts = ["fine", "error-429 this one", *(f"more {i}" for i in range(20))]
    with pytest.raises(openai.RateLimitError) as exc:
        client.embeddings.create(model=TITAN, input=texts)
    assert "mock failure 429" in exc.value.message
    assert 2 <= len(_invokes(mock)) <= len(texts)


def test_slug_from_settings_signs_with_its_keys(
    make_gateway: GatewayFactory, mock_bedrock: Mock
) -> None:
    mock, upstream = mock_bedrock
    settings = {
        "providers": {
            "emb": {
                "provider": "bedrock",
                "custom_host": upstream.url,
                "aws_access_key_id": KEY_ID,
                "aws_secret_access_key": PROVIDER_KEY,
                "aws_region": REGION,
            }
        }
    }
    gw = make_gateway(settings)
    client = openai.OpenAI(api_key="unused", base_url=gw.url + "/v1", max_retries=0)
    r = client.embeddings.create(model=f"@emb/{TITAN}", input="from settings")
    assert r.data[0].embedding == pytest.approx(vector("from settings", 1024), abs=1e-6)
    assert SIGV4.match(_invokes(mock)[-1]["headers"]["Authorization"])


def test_bad_signature_is_a_403(bedrock_client: BedrockClient, mock_bedrock: Mock) -> None:
    client = bedrock_client(x_portkey_aws_secret_access_key="wrong-secret")
    with pytest.raises(openai.PermissionDeniedError) as exc:
        client.embeddings.create(model=TITAN, input="x")
    assert "signature" in exc.value.message


def test_refused_before_the_upstream(bedrock_client: BedrockClient, mock_bedrock: Mock) -> None:
    mock, _ = mock_bedrock
    client = bedrock_client()
    cases = [
        ({"model": "anthropic.claude-3-haiku", "input": "x"}, "model"),
        ({"model": COHERE, "input": "x", "dimensions": 256}, "dimensions"),
        ({"model": "amazon.titan-embed-text-v1", "input": "x", "dimensions": 256}, "dimensions"),
        ({"model": TITAN, "input": [[1, 2]]}, "input"),
    ]
    for kwargs, param in cases:
        with pytest.raises(openai.BadRequestError) as exc:
            client.embeddings.create(**kwargs)  # type: ignore[call-overload]
        assert exc.value.body["param"] == param  # type: ignore[index]
    assert _invokes(mock) == []
