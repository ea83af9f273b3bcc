"""The one failure of a chat backend a person is told about in its own words: the engine that
serves the chat model cannot be reached, or refuses. Its message is one line, for the log and
the reply alike; it never carries the API key (only the base URL and the engine's status)."""

from __future__ import annotations


class ChatUnavailable(Exception):
    """The chat model's server cannot answer now; str() is one line an operator can act on."""


# What a person reads when a turn meets it: the operator's line stays in the log.
PERSON_LINE = (
    "The chat model is not reachable right now; please try again soon. Nothing was stored."
)
