"""``implements``: the structural check of an adapter against a runtime protocol, memoised
per class (proxy/providers/base.py), answers as isinstance does for every adapter."""

from __future__ import annotations

import pytest

from proxy.credentials import CredentialedAdapter
from proxy.providers import PROVIDERS
from proxy.providers.base import (
    EmbeddingsAdapter,
    MessagesAdapter,
    ModelsAdapter,
    NativeEmbeddingsAdapter,
    implements,
)

PROTOCOLS = [
    MessagesAdapter,
    ModelsAdapter,
    EmbeddingsAdapter,
    NativeEmbeddingsAdapter,
    CredentialedAdapter,
]


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_implements_answers_as_isinstance(name: str) -> None:
    adapter = PROVIDERS[name]
    for protocol in PROTOCOLS:
        assert implements(adapter, protocol) == isinstance(adapter, protocol)
        assert implements(adapter, protocol) == isinstance(adapter, protocol)  # memoised


def test_the_messages_door_finds_claude_speakers() -> None:
    assert implements(PROVIDERS["anthropic"], MessagesAdapter)
    assert not implements(PROVIDERS["openai"], MessagesAdapter)
