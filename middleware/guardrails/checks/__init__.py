"""Built-in guardrail checks, one module per family."""
