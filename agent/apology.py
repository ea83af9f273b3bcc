"""The one way a failure is told to a person: "Sorry, ... (ref 1a2b3c4d)", and logged in full.

The person sees one line; the log keeps the traceback under the same short reference, so an
operator can find what happened from the message someone quotes.
"""

from __future__ import annotations

import logging
import secrets

from agent.types import Reply


def apology(
    logger: logging.Logger,
    *,
    what_failed: str,
    said: str = "Sorry, something went wrong",
    after: str = "",
    error: BaseException | None = None,
) -> Reply:
    """Log the failure being handled (or `error`) as `what_failed`, and a Reply that says
    `said (ref xxxx).` then `after`. Call it from an except block, or pass the error."""
    reference = secrets.token_hex(4)
    logger.error("%s (ref %s)", what_failed, reference, exc_info=error or True)
    text = f"{said} (ref {reference})." + (f" {after}" if after else "")
    return Reply(text, stored=False)
