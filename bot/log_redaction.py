"""Secrets kept out of the logs, at every level.

At DEBUG discord.py logs the URL of every REST call, and an interaction is answered at
`/interactions/<id>/<token>/callback` and followed up at `/webhooks/<application id>/<token>`:
the token lets whoever reads it answer as the bot for 15 minutes. It also logs every gateway
event, and an INTERACTION_CREATE event carries the same token as a field. The filter here
rewrites each record's formatted message (its arguments included), exception text and stack
before any handler writes it: those tokens, an Authorization header's value, a password in a
database URL and the configured bot token itself become "<redacted>".
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import TextIO

REDACTED = "<redacted>"
LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"

# Each keeps its first group and replaces the rest of the match.
_SECRET_PATTERNS = (
    # An interaction's token in a callback or webhook URL.
    re.compile(r"(/(?:interactions|webhooks)/\d+/)[^/\s?#'\"]+"),
    # A token field in a logged payload, as JSON ("token": "...") or a dict's repr.
    re.compile(r"""(['"](?:token|access_token|refresh_token)['"]\s*:\s*['"])[^'"]+"""),
    # An Authorization header's value, as a header line or a dict's repr.
    re.compile(r"""(authorization['"]?\s*[:=]\s*['"]?)[^'"\s,}]+(?:\s+[^'"\s,}]+)?""", re.I),
    # The password in scheme://user:password@host.
    re.compile(r"(://[^:/@\s]+:)[^@\s/]+(?=@)"),
)

# Formats an exception the way logging.Formatter does, so a redacted one reads the same.
_EXCEPTIONS = logging.Formatter()


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every secret pattern above and each of `secrets` replaced."""
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda match: match.group(1) + REDACTED, text)
    return text


class RedactSecrets(logging.Filter):
    """A handler filter: the record's message, exception and stack, secrets redacted. It
    changes the record itself, so handlers after this one see the redacted text too."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = tuple(secret for secret in secrets if secret.strip())

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self._redact(_message(record))
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = _EXCEPTIONS.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self._redact(record.stack_info)
        return True

    def _redact(self, text: str) -> str:
        return redact(text, self._secrets)


def redacting_handler(stream: TextIO, secrets: Iterable[str] = ()) -> logging.Handler:
    """The handler `atelier` logs through: one line per record on `stream`, redacted."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(RedactSecrets(secrets))
    return handler


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except (TypeError, ValueError):  # arguments that do not fit the format: keep both
        return f"{record.msg} {record.args!r}"
