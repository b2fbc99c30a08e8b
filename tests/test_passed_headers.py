"""``passed_headers``: the upstream headers a client gets (rate limits, the provider's
request id), whatever their case or order, and nothing else — checked against the plain
definition on generated header lists (repeats and near-miss names included)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy

import proxy.app  # noqa: F401  (the import order the gateway uses)
from proxy.terminal.relay import passed_headers

NAMES = [
    "x-ratelimit-remaining-requests",
    "anthropic-ratelimit-tokens-reset",
    "retry-after",
    "x-request-id",
    "request-id",
    "apim-request-id",
    "x-ratelimit",
    "x-requestid",
    "ratelimit-remaining",
    "content-type",
    "authorization",
    "set-cookie",
    "",
]


def defined(upstream: CIMultiDictProxy[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in upstream.items():
        low = name.lower()
        if low.startswith(("x-ratelimit-", "anthropic-ratelimit-")) or low == "retry-after":
            out[low] = value
        elif low in ("x-request-id", "request-id", "apim-request-id"):
            out["x-upstream-request-id"] = value
    return out


def cased(name: str, flips: list[bool]) -> str:
    flips = (flips + [False] * len(name))[: len(name)]
    return "".join(c.upper() if f else c for c, f in zip(name, flips, strict=True))


@given(
    st.lists(
        st.tuples(
            st.one_of(st.sampled_from(NAMES), st.text("xXaArR-_tiqe", max_size=25)),
            st.lists(st.booleans(), max_size=40),
            st.text(max_size=8),
        ),
        max_size=30,
    )
)
def test_the_passed_headers_are_those_defined(headers: list[tuple[str, list[bool], str]]) -> None:
    upstream = CIMultiDictProxy(CIMultiDict([(cased(n, f), v) for n, f, v in headers]))
    assert passed_headers(upstream) == defined(upstream)


def test_an_openai_answers_headers() -> None:
    upstream = CIMultiDictProxy(
        CIMultiDict(
            {
                "Content-Type": "application/json",
                "X-RateLimit-Remaining-Requests": "9",
                "x-request-id": "req_1",
                "Retry-After": "2",
                "Set-Cookie": "__cf_bm=secret",
                "openai-organization": "org-1",
            }
        )
    )
    assert passed_headers(upstream) == {
        "x-ratelimit-remaining-requests": "9",
        "x-upstream-request-id": "req_1",
        "retry-after": "2",
    }
