"""The text a guardrail looks at, in a form checks can read and mutators can rewrite.

A request document wraps the messages (plain dicts, decoded only when a guardrail applies);
a response document wraps the answer's JSON. Both expose the same small surface: the main
text (Portkey's convention: the last message, or the first choice), every text segment (for
detectors and redactors that must see all of it), and in-place rewrites that set ``changed``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from proxy.schema import text_of_json

Rewrite = Callable[[str], str]


def _rewrite_content(content: Any, fn: Rewrite) -> tuple[Any, bool]:
    """Apply ``fn`` to a message content (string or list of parts); report a change."""
    if isinstance(content, str):
        new = fn(content)
        return new, new != content
    if isinstance(content, list):
        changed = False
        parts = []
        for p in content:
            if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str):
                new = fn(p["text"])
                if new != p["text"]:
                    p = {**p, "text": new}
                    changed = True
            parts.append(p)
        return parts, changed
    return content, False


class Document:
    """Common surface of request and response documents."""

    changed: bool = False
    truncated: bool = False  # only part of the text was kept (a stream over the size cap)

    @property
    def text(self) -> str:
        raise NotImplementedError

    def segments(self) -> Iterator[str]:
        raise NotImplementedError

    def rewrite(self, fn: Rewrite) -> bool:
        """Apply ``fn`` to every text segment; True if anything changed."""
        raise NotImplementedError

    def add_prefix(self, prefix: str, role: str) -> bool:
        raise NotImplementedError


class RequestDocument(Document):
    def __init__(self, messages: list[dict[str, Any]]) -> None:
        self.messages = messages
        self.changed = False

    @property
    def text(self) -> str:
        if not self.messages:
            return ""
        return text_of_json(self.messages[-1].get("content"))

    def segments(self) -> Iterator[str]:
        for m in self.messages:
            c = m.get("content")
            if isinstance(c, str):
                yield c
            elif isinstance(c, list):
                for p in c:
                    if isinstance(p, dict) and isinstance(p.get("text"), str):
                        yield p["text"]

    def rewrite(self, fn: Rewrite) -> bool:
        any_change = False
        for i, m in enumerate(self.messages):
            new, changed = _rewrite_content(m.get("content"), fn)
            if changed:
                self.messages[i] = {**m, "content": new}
                any_change = True
        self.changed |= any_change
        return any_change

    def add_prefix(self, prefix: str, role: str) -> bool:
        for i in range(len(self.messages) - 1, -1, -1):
            m = self.messages[i]
            if m.get("role") != role:
                continue
            c = m.get("content")
            if isinstance(c, str):
                new: Any = prefix + c
            elif isinstance(c, list):
                new = [{"type": "text", "text": prefix}, *c]
            else:
                new = prefix
            self.messages[i] = {**m, "content": new}
            self.changed = True
            return True
        return False


class ResponseDocument(Document):
    """A chat.completion as a dict: edits stay in the dict, unknown fields survive."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body
        self.changed = False

    def _messages(self) -> Iterator[dict[str, Any]]:
        choices = self.body.get("choices")
        if not isinstance(choices, list):
            return
        for ch in choices:
            if isinstance(ch, dict) and isinstance(ch.get("message"), dict):
                yield ch["message"]

    @property
    def text(self) -> str:
        for m in self._messages():
            return text_of_json(m.get("content"))
        return ""

    def segments(self) -> Iterator[str]:
        for m in self._messages():
            c = m.get("content")
            if isinstance(c, str):
                yield c

    def rewrite(self, fn: Rewrite) -> bool:
        any_change = False
        for m in self._messages():
            new, changed = _rewrite_content(m.get("content"), fn)
            if changed:
                m["content"] = new
                any_change = True
        self.changed |= any_change
        return any_change

    def add_prefix(self, prefix: str, role: str) -> bool:
        done = False
        for m in self._messages():
            c = m.get("content")
            if isinstance(c, str):  # a tool-call answer (content null) stays as it is
                m["content"] = prefix + c
                done = True
        self.changed |= done
        return done
