"""Stream framing decoders by name: bytes in, provider events out.

``sse`` for every HTTP streaming API that uses Server-Sent Events; binary framings (AWS
eventstream for Bedrock) register here too. A decoder has ``feed(bytes) -> list[event]``
and ``flush() -> list[event]``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from proxy.sse import SSEDecoder


class FrameDecoder(Protocol):
    def feed(self, data: bytes) -> list[Any]: ...

    def flush(self) -> list[Any]: ...


def _aws_eventstream() -> FrameDecoder:
    from proxy.providers.bedrock.eventstream import EventStreamDecoder  # botocore: lazily

    return EventStreamDecoder()


FRAMINGS: dict[str, Callable[[], FrameDecoder]] = {
    "sse": SSEDecoder,
    "aws-eventstream": _aws_eventstream,
}
