from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.security.sinks import Sink, start_sink
from tests.servers import ServerThread


@pytest.fixture
def sink() -> Iterator[tuple[Sink, ServerThread]]:
    s, server = start_sink()
    yield s, server
    server.stop()
