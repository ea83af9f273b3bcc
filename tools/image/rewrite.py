"""A refinement's prompt: the old prompt rewritten by the chat model to apply an instruction,
or, when its rewrite cannot be used (a small model repeats, runs on or drifts), the
instruction appended, with a note that says so."""

from __future__ import annotations

import math
import re

from tools.contract import ToolContext
from tools.models.sampling import Sampling, sample
from tools.models.specs import ModelUnavailable

CHAT_ROLE = "chat"
MAX_REWRITE_CHARS = 400
_STOPWORDS = frozenset(
    ("a", "an", "the", "of", "and", "or", "in", "on", "at", "with", "to", "for", "by", "from")
    + ("is", "are", "it", "this", "that", "into", "over", "under")
)
_SYSTEM = (
    "You rewrite prompts for an image generator. Keep the subject and style; apply the "
    "change. Reply with the new prompt only, on one line."
)


def rewrite_prompt(
    context: ToolContext, old: str, instruction: str, seed: int
) -> tuple[str, str | None]:
    """The old prompt changed by the instruction, and a note when the chat model's rewrite
    could not be used and the instruction was appended instead."""
    appended = append_change(old, instruction)
    if not old:
        return instruction, None
    try:
        chat = context.models.get(CHAT_ROLE)
    except (ModelUnavailable, LookupError):
        return appended, "the chat model is unavailable, so the change was appended"
    messages = [
        {"role": "system", "content": _SYSTEM},
        {"role": "user", "content": f"Prompt: {old}\nChange: {instruction}"},
    ]
    [reply] = sample(
        chat, messages, count=1, seed=seed, sampling=Sampling(max_new_tokens=60, temperature=0.7)
    )
    context.check()
    problem = rewrite_problem(old, reply)
    if problem is not None:
        return appended, f"the chat model's rewrite {problem}, so the change was appended"
    return clean_reply(reply), None


def clean_reply(reply: str) -> str:
    first = next((line for line in reply.splitlines() if line.strip()), "")
    first = re.sub(r"^\s*(new prompt|prompt)\s*:\s*", "", first, flags=re.IGNORECASE)
    return first.strip().strip("\"'“”").strip()


def rewrite_problem(old: str, reply: str) -> str | None:
    """Why a rewrite cannot be used (None: it can). A small model's reply often repeats the
    request, runs on, or drifts to another subject; the picture must stay the same picture."""
    new = clean_reply(reply)
    if not new:
        return "was empty"
    if len(new) > max(MAX_REWRITE_CHARS, 2 * len(old)):
        return "ran on too long"
    if new.strip().lower() == old.strip().lower():
        return "changed nothing"
    subject = content_words(old)
    kept = subject & content_words(new)
    if subject and len(kept) < math.ceil(0.6 * len(subject)):
        return "lost the subject"
    return None


def content_words(text: str) -> set[str]:
    return {w for w in re.findall(r"\w+", text.lower()) if w not in _STOPWORDS and len(w) > 2}


def append_change(old: str, instruction: str) -> str:
    change = re.sub(r"^(make (it|this)|but|now|and)\s+", "", instruction, flags=re.IGNORECASE)
    return f"{old}, {change}" if old else change
