"""What a job asked for, short enough to keep in the ledger and quote back to its owner."""

from __future__ import annotations

from agent.boundary import excerpt
from tools.contract import Tool, ToolArgs

SUMMARY_CHARS = 100  # the ledger's column
QUOTED_CHARS = 40  # what an announcement quotes of it


def job_summary(tool: Tool, args: ToolArgs) -> str:
    """The request's own words on one line, cleaned and at most 100 characters; the piece it
    builds on when it has no words (a variation of #3), else empty."""
    words = getattr(args, tool.text_arg, None) if tool.text_arg else None
    if isinstance(words, str) and words.strip():
        return excerpt(words, SUMMARY_CHARS)
    return "" if args.piece is None else f"#{args.piece}"
