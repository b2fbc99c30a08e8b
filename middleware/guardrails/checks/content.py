"""Checks on what the text contains: code blocks of a language, URLs that are well formed."""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from typing import Any, Literal
from urllib.parse import urlsplit

import msgspec

from middleware.guardrails.checks.base import Check, CheckContext, Outcome

CodeFormat = Literal[
    "SQL", "Python", "TypeScript", "JavaScript", "Java", "C#", "C++", "C", "Ruby", "PHP",
    "Swift", "Kotlin", "Go", "Rust", "Scala", "R", "Perl", "Shell", "HTML", "CSS", "XML",
    "JSON", "YAML", "Markdown", "Dockerfile",
]  # fmt: skip

# fence labels people actually write, by format
_LABELS: dict[str, set[str]] = {
    "SQL": {"sql", "mysql", "postgresql", "postgres", "sqlite", "plsql", "tsql"},
    "Python": {"python", "py", "python3", "py3"},
    "TypeScript": {"typescript", "ts", "tsx"},
    "JavaScript": {"javascript", "js", "jsx", "node", "mjs"},
    "Java": {"java"},
    "C#": {"csharp", "cs", "c#"},
    "C++": {"cpp", "c++", "cxx", "hpp", "cc"},
    "C": {"c", "h"},
    "Ruby": {"ruby", "rb"},
    "PHP": {"php"},
    "Swift": {"swift"},
    "Kotlin": {"kotlin", "kt", "kts"},
    "Go": {"go", "golang"},
    "Rust": {"rust", "rs"},
    "Scala": {"scala", "sc"},
    "R": {"r"},
    "Perl": {"perl", "pl"},
    "Shell": {"shell", "sh", "bash", "zsh", "console", "shellscript"},
    "HTML": {"html", "htm", "xhtml"},
    "CSS": {"css", "scss", "less"},
    "XML": {"xml"},
    "JSON": {"json", "jsonc", "json5"},
    "YAML": {"yaml", "yml"},
    "Markdown": {"markdown", "md"},
    "Dockerfile": {"dockerfile", "docker"},
}

_FENCE = re.compile(r"^[ \t]*(?:```|~~~)[ \t]*([A-Za-z0-9_#+.\-]*)", re.MULTILINE)


class CodeParams(msgspec.Struct, forbid_unknown_fields=True):
    format: CodeFormat


class ContainsCode(Check):
    """Passes when a fenced code block labelled with the format (or an alias) is present."""

    Params = CodeParams

    def check(self, cx: CheckContext) -> Outcome:
        labels = _LABELS[self.params.format]
        found = {m.group(1).lower() for m in _FENCE.finditer(cx.text) if m.group(1)}
        ok = bool(found & labels)
        what = "contains" if ok else "does not contain"
        return Outcome(ok, f"the text {what} a {self.params.format} code block")


# http(s) URLs up to the first space or closing bracket/quote; trailing punctuation dropped
_URL = re.compile(r"\bhttps?://[^\s<>\"'`)\]}]+", re.IGNORECASE)
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def url_problem(url: str) -> str | None:
    """Why ``url`` is not a well-formed http(s) URL, or None."""
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a bad port
    except ValueError as exc:
        return str(exc)
    if port == 0:
        return "port 0"
    host = parts.hostname
    if not host:
        return "no host"
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return "host is not a valid domain name"
    labels = ascii_host.rstrip(".").split(".")
    if len(labels) < 2 or len(ascii_host) > 253:
        return "host is not a fully qualified domain name"
    if not all(_LABEL.match(label) for label in labels):
        return "host has an invalid label"
    if labels[-1].isdigit():
        return "top-level domain is numeric"
    return None


def find_urls(text: str) -> list[str]:
    return [m.group(0).rstrip(".,;:!?") for m in _URL.finditer(text)]


class UrlParams(msgspec.Struct, forbid_unknown_fields=True):
    onlyDNS: bool = False  # also resolve each host (network access: off unless asked)
    dnsTimeoutMs: int = 2000


# per text: a URL or a host past these is not checked, and fails the check
MAX_URLS = 1000  # url_problem costs ~10-30 µs (IDNA): 1M characters of URLs took 0.8 s
MAX_DNS_HOSTS = 20
DNS_TTL = 300.0
DNS_NEGATIVE_TTL = 30.0


class ValidUrls(Check):
    """Every http(s) URL in the text is well formed (text without URLs passes)."""

    Params = UrlParams

    def __init__(self, params: UrlParams, env: Any) -> None:
        super().__init__(params, env)
        if params.dnsTimeoutMs <= 0:
            raise ValueError("dnsTimeoutMs: must be positive")

    async def run(self, cx: CheckContext) -> Outcome:
        urls = list(dict.fromkeys(find_urls(cx.text)))  # distinct, in order
        if not urls:
            return Outcome(True, "no URLs found")
        checked = urls[:MAX_URLS]
        unchecked = len(urls) - len(checked)
        bad = [u for u in checked if url_problem(u) is not None]
        if not bad and self.params.onlyDNS:
            bad, skipped = await self._unresolvable(checked)
            unchecked += skipped
        explanation = f"{len(urls)} URLs, {len(bad)} invalid"
        data: dict[str, Any] = {"invalid_urls": bad[:20]} if bad else {}
        if unchecked:  # "not checked" is not "valid"
            explanation += f", {unchecked} not checked (over the per-text limit)"
            data["unchecked"] = unchecked
        return Outcome(not bad and not unchecked, explanation, data or None)

    async def _unresolvable(self, urls: list[str]) -> tuple[list[str], int]:
        """URLs whose host does not resolve, and how many were past MAX_DNS_HOSTS."""
        hosts = {u: urlsplit(u).hostname or "" for u in urls}
        unique = list(dict.fromkeys(hosts.values()))
        looked_up = unique[:MAX_DNS_HOSTS]
        answers = await asyncio.gather(*(self._resolves(h) for h in looked_up))
        ok = dict(zip(looked_up, answers, strict=True))
        skipped = [u for u, h in hosts.items() if h not in ok]
        return [u for u, h in hosts.items() if h in ok and not ok[h]], len(skipped)

    async def _resolves(self, host: str) -> bool:
        env = self.env
        cached = env.dns.get(host)
        if cached is not None:
            return cached
        task = asyncio.get_running_loop().create_task(self._lookup(host))
        env.dns_tasks.add(task)  # referenced until done, even after we stop waiting
        task.add_done_callback(env.dns_tasks.discard)
        try:
            return await asyncio.wait_for(asyncio.shield(task), self.params.dnsTimeoutMs / 1000)
        except TimeoutError:
            return False

    async def _lookup(self, host: str) -> bool:
        """One getaddrinfo, holding one of the process-wide slots until it returns: a
        lookup that outlives its check's timeout still occupies a resolver thread."""
        env = self.env
        async with env.dns_slots:
            try:
                await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
            except OSError:
                env.dns.put(host, False, DNS_NEGATIVE_TTL)
                return False
        env.dns.put(host, True, DNS_TTL)
        return True
