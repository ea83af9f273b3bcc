"""Answering in words: the prompt from the context window, the chat model's reply, and the
rolling summary of what fell out of the window.

Generation runs with no transaction open (it takes seconds; a SQLite write lock must not be
held that long). If it fails nothing is stored, so a retry starts from the same history.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.chat.backends.streaming import reply_streamed
from agent.chat.summary import summarize
from agent.config import Settings
from agent.scope import SharedSession
from agent.sessions.canvas import FORMER_MEMBER
from agent.store.db import Conversation, Role
from agent.store.memory import ContextWindow, Memory, WindowMessage
from agent.types import TextSink

logger = logging.getLogger(__name__)


class ChatReplies:
    def __init__(
        self,
        *,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        chat_model: BaseChatModel,
        memory: Memory,
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._chat_model = chat_model
        self._memory = memory
        self._system_tokens = memory.count_tokens(settings.system_prompt)

    def window_tokens(self, said: str) -> int:
        """What the history may take of the context: the rest holds the system prompt, the
        person's message and the reply."""
        settings = self._settings
        used = self._system_tokens + self._memory.count_tokens(said) + settings.max_new_tokens
        return settings.context_tokens - used

    def prompt(
        self, window: ContextWindow, text: str, shared: SharedSession | None = None
    ) -> list[BaseMessage]:
        """The system message, the history and the person's message, in order. In a group
        session each person's message is labelled with their name, so the model knows who
        asked for what."""
        system = self._system_message(window.summary, shared)
        history = as_chat(window.messages, None if shared is None else shared.names)
        said = text if shared is None else f"{shared.speaker}: {text}"
        return [system, *history, HumanMessage(said)]

    async def answer(
        self,
        window: ContextWindow,
        text: str,
        shared: SharedSession | None = None,
        stream: TextSink | None = None,
    ) -> str:
        """The reply; with `stream`, shown there as it is written (the whole is returned)."""
        reply = await reply_streamed(self._chat_model, self.prompt(window, text, shared), stream)
        answer = str(reply.content).strip()
        if not answer:
            raise ValueError("the chat model returned an empty reply")
        return answer

    async def maybe_summarize(self, conversation_id: int, first_kept_id: int) -> None:
        """Fold messages that fell out of the window into the summary, once enough have."""
        batch = self._settings.summary_batch
        async with self._sessions() as session:
            conversation = await session.get(Conversation, conversation_id)
            if conversation is None:
                return
            if await self._memory.overflow(session, conversation, first_kept_id, batch) < batch:
                return
            older = await self._memory.unsummarized(session, conversation, first_kept_id)
            previous, through = conversation.summary, conversation.summarized_through
        try:
            summary = await summarize(self._chat_model, previous, older)
        except Exception:  # noqa: BLE001 - the reply is already stored; retry at the next turn
            logger.exception("summarizing conversation %s failed", conversation_id)
            return
        async with self._sessions() as session, session.begin():
            conversation = await session.get(Conversation, conversation_id)
            # Another turn may have summarized meanwhile; its summary wins.
            if conversation and summary and conversation.summarized_through == through:
                conversation.summary = summary
                conversation.summarized_through = older[-1].id

    def _system_message(self, summary: str | None, shared: SharedSession | None) -> SystemMessage:
        system = self._settings.system_prompt
        if shared is not None:
            system += (
                f"\n\nThis is a group art session on “{shared.theme}” ({shared.mode} mode). "
                "Several people talk here; each of their messages starts with their name."
            )
        if summary:
            system += f"\n\nWhat you remember of earlier talk with this person: {summary}"
        return SystemMessage(system)


def as_chat(
    messages: Sequence[WindowMessage], names: Mapping[int, str] | None = None
) -> list[BaseMessage]:
    """The history as chat messages; with `names` (a session) each person's is labelled."""
    chat: list[BaseMessage] = []
    for message in messages:
        if message.role == Role.USER and names is not None:
            name = names.get(message.author_id or 0, FORMER_MEMBER)
            chat.append(HumanMessage(f"{name}: {message.content}"))
        elif message.role == Role.USER:
            chat.append(HumanMessage(message.content))
        elif message.role == Role.ASSISTANT:
            chat.append(AIMessage(message.content))
    return chat
