"""The README's promise: the openai SDK gets completions and streams through the gateway."""

from __future__ import annotations

from tests.conftest import openai_client


def test_completion_and_stream(gateway, mock_openai) -> None:
    mock, upstream = mock_openai
    client = openai_client(gateway, upstream)
    r = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hello gateway"}]
    )
    assert r.choices[0].message.content == "echo: hello gateway"
    pieces = [
        c.choices[0].delta.content or ""
        for c in client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "stream me"}],
            stream=True,
        )
        if c.choices
    ]
    assert "".join(pieces) == "echo: stream me"
    assert mock.calls == 2
