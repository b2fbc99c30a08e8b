"""The jwt check: a bearer token verified against a JWKS served on loopback."""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
import openai
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.guardrails.conftest import Env, guard


@pytest.fixture(scope="module")
def keys(env: Env) -> dict[str, Any]:
    good = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(good.public_key()))
    env.hooks.jwks = {"keys": [{**jwk, "kid": "k1", "alg": "RS256", "use": "sig"}]}
    return {"good": good, "other": other}


def token(key: Any, kid: str = "k1", **claims: Any) -> str:
    now = int(time.time())
    body = {"sub": "user-1", "iat": now, "exp": now + 300, **claims}
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": kid})


def cfg(env: Env, **params: Any) -> dict[str, Any]:
    p = {"jwksUri": f"{env.hooks_url}/jwks", "headerKey": "x-user-token", **params}
    return {"input_guardrails": [guard("default.jwt", p, deny=True)]}


def explanation(exc: openai.APIStatusError) -> str:
    assert exc.status_code == 446
    hooks = exc.response.json()["hook_results"]["before_request_hooks"]
    return str(hooks[0]["checks"][0]["data"]["explanation"])


def test_valid_token_passes_and_jwks_is_cached(env: Env, keys: dict[str, Any]) -> None:
    hits = env.hooks.jwks_hits
    for _ in range(3):
        t = token(keys["good"])
        status, _ = env.chat("hi", cfg(env), x_user_token=f"Bearer {t}")
        assert status == 200
    assert env.hooks.jwks_hits - hits <= 1  # fetched once (or not at all if already cached)


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda k: token(k["good"], exp=int(time.time()) - 60), "ExpiredSignatureError"),
        (lambda k: token(k["other"]), "InvalidSignatureError"),
        (lambda k: token(k["good"], kid="unknown"), "no key in the JWKS"),
        (lambda k: token(k["good"], iat=int(time.time()) - 7200), "older than maxTokenAge"),
        (lambda k: "not-a-jwt", "not a well-formed JWT"),
    ],
)
def test_bad_tokens_are_denied(env: Env, keys: dict[str, Any], make: Any, expected: str) -> None:
    before = env.mock.calls
    with pytest.raises(openai.APIStatusError) as ei:
        env.chat("hi", cfg(env, maxTokenAge="1h"), x_user_token=make(keys))
    assert expected in explanation(ei.value)
    assert env.mock.calls == before


def test_missing_header_and_audience(env: Env, keys: dict[str, Any]) -> None:
    with pytest.raises(openai.APIStatusError) as ei:
        env.chat("hi", cfg(env))
    assert "no token in the x-user-token header" in explanation(ei.value)
    t = token(keys["good"], aud="gateway")
    assert env.chat("hi", cfg(env, audience="gateway"), x_user_token=t)[0] == 200
    with pytest.raises(openai.APIStatusError) as ei:
        env.chat("hi", cfg(env, audience="other"), x_user_token=t)
    assert "InvalidAudienceError" in explanation(ei.value)


def test_symmetric_algorithms_are_refused_at_build_time(env: Env) -> None:
    with pytest.raises(openai.BadRequestError) as ei:
        env.chat("hi", cfg(env, algorithms=["HS256"]))
    assert "parameters.algorithms" in ei.value.message
