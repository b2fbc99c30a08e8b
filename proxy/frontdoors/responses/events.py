"""A chat stream as a Responses event stream, event for event as OpenAI sends them.

``response.created`` and ``response.in_progress`` open it. Text becomes a ``message`` item
(``output_item.added``, ``content_part.added``, ``output_text.delta`` ... ``.done``,
``content_part.done``, ``output_item.done``), a refusal the same with ``refusal`` events,
each tool call a ``function_call`` item with ``function_call_arguments.delta``/``.done``.
``response.completed`` (``response.incomplete`` after a length or content-filter finish)
closes it with the whole Response and its usage. Every event carries its
``sequence_number``, counted from 0. A failure after the first event is an ``error`` event
followed by ``response.failed``, as OpenAI ends a failed stream.

No reasoning events: the chat form the providers are translated into carries no reasoning
text (only its token count, which is in the usage).
"""

from __future__ import annotations

from typing import Any

import msgspec

from proxy.errors import GatewayError
from proxy.frontdoors.responses.answer import call_item, item_id, message_item, response_object
from proxy.reply import Chunk
from proxy.schema import ChatCompletionChunk, FunctionCallDelta, Usage

_encode = msgspec.json.Encoder().encode


class _Call:
    __slots__ = ("args", "call_id", "id", "name", "output_index")

    def __init__(self, output_index: int, call_id: str, name: str) -> None:
        self.output_index = output_index
        self.id = item_id("fc")
        self.call_id = call_id
        self.name = name
        self.args: list[str] = []


class EventWriter:
    """One stream's state: chat chunks in, Responses events out (as Chunks to frame)."""

    def __init__(self, req: dict[str, Any], rid: str, created: int, model: str) -> None:
        self.req = req
        self.rid = rid
        self.created = created
        self.model = model
        self.seq = 0
        self.output: list[dict[str, Any]] = []  # finished items, in output order
        self.opened = 0  # output items started
        self.msg_id: str | None = None  # the open message item
        self.msg_index = 0
        self.part: str | None = None  # its open content part: "output_text" or "refusal"
        self.parts: list[dict[str, Any]] = []
        self.text: list[str] = []
        self.calls: dict[int, _Call] = {}
        self.call: _Call | None = None  # the open function_call item
        self.finish: str | None = None
        self.usage: Usage | None = None
        self.out: list[Chunk] = []
        self.final: dict[str, Any] | None = None  # the Response of response.completed

    def _emit(self, kind: str, **fields: Any) -> None:
        event = {"type": kind, "sequence_number": self.seq, **fields}  # OpenAI's key order
        self.seq += 1
        self.out.append(Chunk(raw=_encode(event), wire="responses", event=kind, flush=False))

    def _take(self) -> list[Chunk]:
        out, self.out = self.out, []
        if out:
            out[-1].flush = True
        return out

    def response(self, status: str | None = None) -> dict[str, Any]:
        return response_object(
            self.req,
            self.rid,
            self.created,
            self.model,
            self.output,
            self.finish,
            self.usage,
            status,
        )

    # ---------------------------------------------------------------- phases

    def start(self) -> list[Chunk]:
        opening = self.response("in_progress")
        self._emit("response.created", response=opening)
        self._emit("response.in_progress", response=opening)
        return self._take()

    def feed(self, chunk: ChatCompletionChunk) -> list[Chunk]:
        if isinstance(chunk.usage, Usage):
            self.usage = chunk.usage
        for ch in chunk.choices:
            if ch.index != 0:
                continue  # the Responses API has one output: the first choice
            d = ch.delta
            if isinstance(d.content, str) and d.content:
                self._delta("output_text", d.content)
            if isinstance(d.refusal, str) and d.refusal:
                self._delta("refusal", d.refusal)
            for tc in d.tool_calls or ():
                fn = tc.function if isinstance(tc.function, FunctionCallDelta) else None
                call = self.calls.get(tc.index)
                if call is None:
                    self._close_message()
                    self._close_call()
                    name = fn.name if fn is not None and isinstance(fn.name, str) else ""
                    call_id = tc.id if isinstance(tc.id, str) else item_id("call")
                    call = self.calls[tc.index] = self.call = _Call(self.opened, call_id, name)
                    self.opened += 1
                    item = call_item(call_id, name, "", "in_progress", call.id)
                    self._emit(
                        "response.output_item.added", output_index=call.output_index, item=item
                    )
                if fn is not None and isinstance(fn.arguments, str) and fn.arguments:
                    call.args.append(fn.arguments)
                    if call is self.call:
                        self._emit(
                            "response.function_call_arguments.delta",
                            item_id=call.id,
                            output_index=call.output_index,
                            delta=fn.arguments,
                        )
            if ch.finish_reason is not None:
                self.finish = ch.finish_reason
        return self._take()

    def end(self) -> list[Chunk]:
        self._close_message()
        self._close_call()
        final = self.final = self.response()
        kind = "response.incomplete" if final["status"] == "incomplete" else "response.completed"
        self._emit(kind, response=final)
        return self._take()

    def failed(self, exc: GatewayError) -> list[Chunk]:
        """``error`` then ``response.failed``: the last events of a stream that broke."""
        self._emit("error", code=exc.code or exc.type, message=exc.message, param=exc.param)
        final = self.response("failed")
        code = "rate_limit_exceeded" if exc.status == 429 else "server_error"
        final["error"] = {"code": code, "message": exc.message}
        self._emit("response.failed", response=final)
        return self._take()

    # ---------------------------------------------------------------- items

    def _delta(self, part: str, delta: str) -> None:
        if self.msg_id is None:
            self._close_call()
            self.msg_id = item_id("msg")
            self.msg_index = self.opened
            self.opened += 1
            item = message_item(None, None, "in_progress", self.msg_id)
            self._emit("response.output_item.added", output_index=self.msg_index, item=item)
        if self.part != part:
            self._close_part()
            self.part = part
            empty = _part(part, "")
            self._emit("response.content_part.added", **self._at(), part=empty)
        self.text.append(delta)
        if part == "output_text":
            self._emit("response.output_text.delta", **self._at(), delta=delta, logprobs=[])
        else:
            self._emit("response.refusal.delta", **self._at(), delta=delta)

    def _at(self) -> dict[str, Any]:
        return {
            "item_id": self.msg_id,
            "output_index": self.msg_index,
            "content_index": len(self.parts),
        }

    def _close_part(self) -> None:
        if self.part is None:
            return
        text = "".join(self.text)
        if self.part == "output_text":
            self._emit("response.output_text.done", **self._at(), text=text, logprobs=[])
        else:
            self._emit("response.refusal.done", **self._at(), refusal=text)
        done = _part(self.part, text)
        self._emit("response.content_part.done", **self._at(), part=done)
        self.parts.append(done)
        self.part = None
        self.text = []

    def _close_message(self) -> None:
        if self.msg_id is None:
            return
        self._close_part()
        status = "incomplete" if self.finish in ("length", "content_filter") else "completed"
        item = {**message_item(None, None, status, self.msg_id), "content": self.parts}
        self._emit("response.output_item.done", output_index=self.msg_index, item=item)
        self.output.append(item)
        self.msg_id = None
        self.parts = []

    def _close_call(self) -> None:
        call = self.call
        if call is None:
            return
        args = "".join(call.args)
        at = {"item_id": call.id, "output_index": call.output_index}
        self._emit("response.function_call_arguments.done", **at, arguments=args)
        item = call_item(call.call_id, call.name, args, "completed", call.id)
        self._emit("response.output_item.done", output_index=call.output_index, item=item)
        self.output.append(item)
        self.call = None


def _part(kind: str, text: str) -> dict[str, Any]:
    if kind == "output_text":
        return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
    return {"type": "refusal", "refusal": text}
