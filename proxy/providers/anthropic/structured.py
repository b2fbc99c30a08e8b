"""``response_format`` on the Messages API.

- ``json_schema``: Anthropic's native structured outputs (``output_config.format``, GA,
  constrained decoding, the answer is plain text JSON, so streams need nothing special).
  Models released before structured outputs (Claude 2/3.x, Opus/Sonnet 4.0 and Opus 4.1)
  reject that field, so for them the schema becomes a tool the model must call, and the
  tool's input comes back as the message content (``ANSWER_TOOL``).
- ``json_object``: Anthropic has no JSON mode; a system instruction asks for one JSON
  object. No assistant prefill: recent models reject prefill, and it would change the text.
"""

from __future__ import annotations

import re

from msgspec import UNSET

from proxy.errors import InvalidRequest
from proxy.providers.anthropic.native import (
    JSONOutputFormat,
    OutputConfig,
    TextBlock,
    ToolChoice,
    ToolParam,
)
from proxy.schema import ChatRequest, JSONObjectFormat, JSONSchemaFormat

# the tool that carries a json_schema answer on legacy models; reserved for the gateway
ANSWER_TOOL = "gateway_json_response"

JSON_INSTRUCTION = (
    "Respond with exactly one valid JSON object and nothing else: no prose, no code fences."
)

_LEGACY = re.compile(
    r"^(?:[a-z]{2}\.)?(?:anthropic\.)?claude-(?:instant|2|3[-.]|(?:opus|sonnet)-4(?:-0|-1|-20|$))"
)


def is_legacy(model: str) -> bool:
    """Models that predate native structured outputs (see the module docstring)."""
    return _LEGACY.match(model) is not None


class StructuredPlan:
    """What response_format adds to one request."""

    def __init__(self) -> None:
        self.output_config: OutputConfig | None = None
        self.tool: ToolParam | None = None
        self.system: TextBlock | None = None


def plan(req: ChatRequest, model: str) -> StructuredPlan:
    out = StructuredPlan()
    rf = req.response_format
    if isinstance(rf, JSONSchemaFormat) and isinstance(rf.json_schema.schema, dict):
        spec = rf.json_schema
        schema = spec.schema
        assert isinstance(schema, dict)
        if is_legacy(model):
            out.tool = ToolParam(
                name=ANSWER_TOOL,
                input_schema=schema,
                description=spec.description
                if isinstance(spec.description, str)
                else f"Give the answer as {spec.name}.",
            )
        else:
            out.output_config = OutputConfig(format=JSONOutputFormat(schema=schema))
    elif isinstance(rf, JSONSchemaFormat | JSONObjectFormat):
        out.system = TextBlock(text=JSON_INSTRUCTION)
    return out


def answer_tool_choice(current: ToolChoice | None, has_user_tools: bool) -> ToolChoice:
    """Force the answer tool; with the client's own tools too, the model must call one."""
    if not has_user_tools or (current is not None and current.type == "none"):
        return ToolChoice(type="tool", name=ANSWER_TOOL)
    parallel = current.disable_parallel_tool_use if current is not None else UNSET
    return ToolChoice(type="any", disable_parallel_tool_use=parallel)


def check_tool_name(name: str, param: str) -> None:
    if name == ANSWER_TOOL:
        raise InvalidRequest(
            f"the tool name {ANSWER_TOOL!r} is reserved by the gateway", param=param
        )
