"""OpenAI's Responses API (``/v1/responses``) on every provider.

OpenAI and Azure speak it themselves: the body goes through as sent (unknown fields, item
and tool types included) and the answer comes back byte for byte. Every other provider is
reached through the chat form (``codec``: request to chat, ``answer``/``events``: chat
answer and stream back to Responses), and the gateway keeps what it made in its own store
(``store``) so ``previous_response_id`` and ``GET /v1/responses/{id}`` work there too.
The door itself is ``door.ResponsesDoor``; docs/responses.md has the whole picture.
"""
