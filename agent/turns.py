"""The turn pipeline: Agent.respond(turn) -> Reply.

A chat turn reads the context in one short transaction, generates with no transaction open
(generation takes seconds; a SQLite write lock must not be held that long), then stores the
person's message and the reply together in one transaction. If generation fails nothing is
stored, so a retry starts from the same history.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from typing import NamedTuple

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.account import Commands
from agent.chat.summary import summarize
from agent.chat.tool_loop import ToolLoop
from agent.config import Settings
from agent.making.studio import ANSWER, REVISE, Studio
from agent.store.artifacts import newest_pieces
from agent.store.db import Conversation, Role
from agent.store.media import MediaStore
from agent.store.memory import ContextWindow, Memory, WindowMessage
from agent.store.scope import find_or_create_conversation, find_or_create_user, find_user
from agent.types import Reply, Turn
from tools.contract import Tool

logger = logging.getLogger(__name__)

EMPTY_HINT = "Say something to start: a question, an idea for a poem, a picture in words."


class PieceSummary(NamedTuple):
    number: int
    kind: str
    prompt: str


class Agent:
    def __init__(
        self,
        *,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        chat_model: BaseChatModel,
        memory: Memory,
        studio: Studio | None = None,
        media: MediaStore | None = None,
        tool_loop: ToolLoop | None = None,
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._chat_model = chat_model
        self._memory = memory
        self._studio = studio
        self._tool_loop = tool_loop
        tools = () if studio is None else tuple(studio.tools.values())
        self._commands = Commands(sessions, memory, media, tools)
        self._system_tokens = memory.count_tokens(settings.system_prompt)

    async def respond(self, turn: Turn) -> Reply:
        if turn.command is not None:
            if self._studio is not None and self._studio.handles(turn.command):
                return await self._studio.command(turn)
            return await self._commands.run(turn)
        if turn.attachments and self._studio is not None and not turn.text.strip():
            return await self._studio.receive(turn, said=_upload_line(turn))
        problem = self._check_text(turn.text)
        if problem is not None:
            return Reply(problem, stored=False)
        return await self._chat(turn)

    @property
    def tools(self) -> tuple[Tool, ...]:
        """The creative tools, for transports that offer each as a command (slash commands)."""
        return () if self._studio is None else tuple(self._studio.tools.values())

    async def recent_pieces(
        self, platform: str, external_id: str, limit: int = 25
    ) -> list[PieceSummary]:
        """The person's newest pieces (in conversations they own), for pickers such as
        Discord's autocomplete of #N."""
        async with self._sessions() as session:
            user = await find_user(session, platform, external_id)
            if user is None:
                return []
            rows = await newest_pieces(session, user.id, limit)
        return [PieceSummary(number, kind, prompt) for number, kind, prompt in rows]

    async def record_delivery(
        self, platform_message_id: str, artifact_numbers: Sequence[int]
    ) -> None:
        """A transport sent the message `platform_message_id` showing these pieces: a later
        reply to that message makes them the piece in focus (see artifacts.resolve_focus)."""
        if not artifact_numbers:
            return
        async with self._sessions() as session, session.begin():
            await self._memory.mark_shown(session, artifact_numbers, platform_message_id)

    def _check_text(self, text: str) -> str | None:
        limit = self._settings.max_message_chars
        if not text.strip():
            return EMPTY_HINT
        if len(text) > limit:
            return (
                f"That message is {len(text):,} characters; the limit is {limit:,}. "
                "Please shorten it or split it into parts. Nothing was stored."
            )
        return None

    async def _chat(self, turn: Turn) -> Reply:
        text = turn.text.strip()
        if self._studio is not None:
            applied = await self._studio.apply_suggestion(turn, text)
            if applied is not None:
                return applied
        conversation, user_id, window = await self._load_context(turn, text)
        if self._tool_loop is not None:
            return await self._tool_turn(turn, conversation.id, user_id, window, text)
        if self._studio is not None:
            decision = await self._studio.decide(_as_chat(window.messages), text)
            if decision.question is not None:
                stored = await self._store(conversation.id, user_id, text, decision.question)
                return Reply(decision.question, stored=stored)
            if decision.choice == REVISE:
                revised = await self._studio.revise(turn, text)
                if revised is not None:
                    return revised
            elif decision.choice != ANSWER and decision.args is not None:
                tool = self._studio.tools[decision.choice]
                return await self._studio.make(turn, tool, decision.args, said=text)
            if turn.attachments:  # no tool asked for: keep the files for the next request
                return await self._studio.receive(turn, said=text)
        try:
            answer = await self._generate(window, text)
        except Exception:  # noqa: BLE001 - any model failure becomes a message; the log keeps all
            return _failed_reply()
        stored = await self._store(conversation.id, user_id, text, answer)
        if stored and window.first_id is not None:
            await self._maybe_summarize(conversation.id, window.first_id)
        return Reply(answer, stored=stored)

    async def _tool_turn(
        self, turn: Turn, conversation_id: int, user_id: int, window: ContextWindow, text: str
    ) -> Reply:
        """Native tool calling: the model answers, or calls tools and then answers."""
        assert self._tool_loop is not None
        prompt = [self._system_message(window.summary), *_as_chat(window.messages)]
        try:
            outcome = await self._tool_loop.run([*prompt, HumanMessage(text)], turn)
            if not outcome.tool_calls and not outcome.answer:
                raise ValueError("the chat model returned an empty reply")
        except Exception:  # noqa: BLE001 - any model failure becomes a message; the log keeps all
            return _failed_reply()
        if not outcome.tool_calls and turn.attachments and self._studio is not None:
            return await self._studio.receive(turn, said=text)
        if not outcome.tool_calls:
            stored = await self._store(conversation_id, user_id, text, outcome.answer)
            return Reply(outcome.answer, stored=stored)
        # The person's message was stored with what the tools made; the closing words follow.
        if outcome.answer:
            async with self._sessions() as session, session.begin():
                closing = self._memory.draft(Role.ASSISTANT, outcome.answer)
                await self._memory.append(session, conversation_id, closing)
        return Reply(outcome.answer, artifacts=outcome.made, stored=bool(outcome.made))

    async def _load_context(self, turn: Turn, text: str) -> tuple[Conversation, int, ContextWindow]:
        budget = (
            self._settings.context_tokens
            - self._system_tokens
            - self._memory.count_tokens(text)
            - self._settings.max_new_tokens
        )
        async with self._sessions() as session, session.begin():
            user = await find_or_create_user(session, turn.platform, turn.user)
            conversation = await find_or_create_conversation(
                session, turn.platform, user, turn.place
            )
            window = await self._memory.window(session, conversation.id, max(budget, 0))
        return conversation, user.id, window

    async def _generate(self, window: ContextWindow, text: str) -> str:
        prompt = [self._system_message(window.summary), *_as_chat(window.messages)]
        prompt.append(HumanMessage(text))
        reply = await self._chat_model.ainvoke(prompt)
        answer = str(reply.content).strip()
        if not answer:
            raise ValueError("the chat model returned an empty reply")
        return answer

    def _system_message(self, summary: str | None) -> SystemMessage:
        system = self._settings.system_prompt
        if summary:
            system += f"\n\nWhat you remember of earlier talk with this person: {summary}"
        return SystemMessage(system)

    async def _store(self, conversation_id: int, user_id: int, text: str, answer: str) -> bool:
        question = self._memory.draft(Role.USER, text, author_id=user_id)
        reply = self._memory.draft(Role.ASSISTANT, answer)
        async with self._sessions() as session, session.begin():
            return await self._memory.append(session, conversation_id, question, reply)

    async def _maybe_summarize(self, conversation_id: int, first_kept_id: int) -> None:
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


def _failed_reply() -> Reply:
    """Logs the failure being handled under a short reference the person can quote."""
    reference = secrets.token_hex(4)
    logger.exception("chat generation failed (ref %s)", reference)
    return Reply(
        f"Sorry, I could not answer that (ref {reference}). Nothing was stored; please try again.",
        stored=False,
    )


def _upload_line(turn: Turn) -> str:
    """What the history keeps of a message that was only files."""
    return "[sent " + ", ".join(attachment.filename for attachment in turn.attachments) + "]"


def _as_chat(messages: Sequence[WindowMessage]) -> list[BaseMessage]:
    chat: list[BaseMessage] = []
    for message in messages:
        if message.role == Role.USER:
            chat.append(HumanMessage(message.content))
        elif message.role == Role.ASSISTANT:
            chat.append(AIMessage(message.content))
    return chat
