"""AWS eventstream frames (real ones, with CRCs) decoded across any byte split."""

from __future__ import annotations

import json
import random

import pytest

from proxy.errors import GatewayError
from proxy.framing import FRAMINGS
from proxy.providers.bedrock.eventstream import EventStreamDecoder
from tests.providers.bedrock import frames
from tests.providers.bedrock.helpers import decode_all, stream_bytes


def test_encoder_matches_botocore_reader() -> None:
    """Our test encoder writes what botocore's own decoder (CRC-checked) reads."""
    from botocore.eventstream import EventStreamBuffer

    buf = EventStreamBuffer()
    buf.add_data(frames.event("messageStart", {"role": "assistant"}))
    (msg,) = list(buf)
    assert msg.headers[":event-type"] == "messageStart"
    assert msg.headers[":message-type"] == "event"
    assert json.loads(msg.payload) == {"role": "assistant"}


def test_every_two_way_split() -> None:
    data = stream_bytes("stream_tool_use.json")
    whole = [(f.event_type, f.payload) for f in decode_all(data, [])]
    assert len(whole) == 13
    assert whole[0][0] == "messageStart" and whole[-1][0] == "metadata"
    for cut in range(1, len(data)):
        assert [(f.event_type, f.payload) for f in decode_all(data, [cut])] == whole


def test_random_splits_and_single_bytes() -> None:
    data = stream_bytes("stream_text.json")
    whole = [(f.event_type, f.payload) for f in decode_all(data, [])]
    rng = random.Random(7)
    for _ in range(50):
        cuts = sorted(rng.sample(range(1, len(data)), rng.randint(1, 40)))
        assert [(f.event_type, f.payload) for f in decode_all(data, cuts)] == whole
    one_by_one = list(range(1, len(data)))
    assert [(f.event_type, f.payload) for f in decode_all(data, one_by_one)] == whole


def test_exception_frame_headers() -> None:
    (f,) = decode_all(frames.exception("throttlingException", "slow down"), [])
    assert f.message_type == "exception"
    assert f.exception_type == "throttlingException"
    assert json.loads(f.payload) == {"message": "slow down"}


@pytest.mark.parametrize("where", ["prelude", "message"])
def test_crc_mismatch_is_a_502(where: str) -> None:
    data = bytearray(frames.event("messageStart", {"role": "assistant"}))
    data[8 if where == "prelude" else -1] ^= 0x01
    with pytest.raises(GatewayError) as err:
        EventStreamDecoder().feed(bytes(data))
    assert err.value.status == 502
    assert err.value.code == "upstream_invalid_response"


def test_truncated_frame_fails_on_flush() -> None:
    data = frames.event("messageStart", {"role": "assistant"})
    dec = EventStreamDecoder()
    assert dec.feed(data[:-3]) == []
    with pytest.raises(GatewayError) as err:
        dec.flush()
    assert err.value.status == 502


def test_registered_framing() -> None:
    dec = FRAMINGS["aws-eventstream"]()
    (f,) = dec.feed(frames.event("messageStop", {"stopReason": "end_turn"}))
    assert f.event_type == "messageStop"
    assert dec.flush() == []


def test_frames_before_a_bad_one_are_delivered() -> None:
    good = frames.event("messageStart", {"role": "assistant"})
    bad = bytearray(frames.event("messageStop", {"stopReason": "end_turn"}))
    bad[-1] ^= 0x01
    dec = EventStreamDecoder()
    (f,) = dec.feed(good + bytes(bad))
    assert f.event_type == "messageStart"
    with pytest.raises(GatewayError):
        dec.flush()
