"""An OpenAI-compatible AI gateway speaking Portkey's open gateway contract."""

__version__ = "0.1.0"
