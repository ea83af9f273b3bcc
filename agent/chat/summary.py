"""Rolling summaries: older talk folded into a few sentences so the window stays small."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from agent.store.db import Message, Role

INSTRUCTION = (
    "Summarize the conversation below in at most five sentences for your own memory: who the "
    "person is, what they asked for, what was made, and their preferences. Plain prose only."
)
# Each message is clipped so one long paste cannot crowd out the rest of the transcript.
CLIP_CHARS = 600


async def summarize(
    chat_model: BaseChatModel, previous: str | None, messages: Sequence[Message]
) -> str:
    transcript = "\n".join(_line(m) for m in messages)
    if previous:
        transcript = f"Summary so far: {previous}\n\n{transcript}"
    reply = await chat_model.ainvoke([SystemMessage(INSTRUCTION), HumanMessage(transcript)])
    return str(reply.content).strip()


def _line(message: Message) -> str:
    speaker = "Person" if message.role == Role.USER else "You"
    return f"{speaker}: {message.content[:CLIP_CHARS]}"
