"""Conversation history: append messages, build the context window, keep a rolling summary.

The context window is what the chat model sees: the system prompt and the rolling summary of
older talk first, then the newest messages that fit the token budget. Token counts are taken
once, when a message is stored, so building a window reads a few rows through the
(conversation_id, id) index and never re-tokenizes history.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agent.db import Conversation, Message, Role, utcnow

TokenCounter = Callable[[str], int]

# Rows fetched per round trip while filling a window; most windows fit in one page.
PAGE = 64


@dataclass(frozen=True)
class ContextWindow:
    summary: str | None
    messages: Sequence[Message]  # oldest first
    tokens: int

    @property
    def first_id(self) -> int | None:
        return self.messages[0].id if self.messages else None


class Memory:
    def __init__(self, count_tokens: TokenCounter) -> None:
        self._count_tokens = count_tokens

    def count_tokens(self, text: str) -> int:
        return self._count_tokens(text)

    def draft(
        self,
        role: Role,
        content: str,
        *,
        author_id: int | None = None,
        platform_message_id: str | None = None,
    ) -> Message:
        """A message with its tokens counted, not yet stored.

        Counting happens here, before a transaction opens, so the tokenizer never runs while
        SQLite's write lock is held.
        """
        return Message(
            author_id=author_id,
            role=role,
            content=content,
            token_count=self._count_tokens(content),
            platform_message_id=platform_message_id,
        )

    async def append(self, session: AsyncSession, conversation_id: int, *messages: Message) -> bool:
        """Store drafted messages and mark the conversation updated.

        Returns False, storing nothing, when the conversation no longer exists (forgotten
        while a reply was being written).
        """
        touched = await session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id)
            .values(updated_at=utcnow())
        )
        if touched.rowcount == 0:
            return False
        for message in messages:
            message.conversation_id = conversation_id
        session.add_all(messages)
        await session.flush()
        return True

    async def window(
        self, session: AsyncSession, conversation: Conversation, budget_tokens: int
    ) -> ContextWindow:
        """The newest messages after the summary whose token counts fit `budget_tokens`."""
        summary_tokens = self._count_tokens(conversation.summary) if conversation.summary else 0
        remaining = budget_tokens - summary_tokens
        kept: list[Message] = []
        before_id: int | None = None
        while True:
            page = await _newest(session, conversation, before_id, PAGE)
            fitting = _take_fitting(page, remaining)
            kept.extend(fitting)
            remaining -= sum(m.token_count for m in fitting)
            if len(fitting) < len(page) or len(page) < PAGE:
                break
            before_id = page[-1].id
        kept.reverse()
        return ContextWindow(conversation.summary, kept, budget_tokens - remaining)

    async def overflow(
        self, session: AsyncSession, conversation: Conversation, before_id: int, cap: int
    ) -> int:
        """How many messages (at most `cap`) lie between the summary and `before_id`."""
        inner = _after_summary(conversation).where(Message.id < before_id).limit(cap)
        query = select(func.count()).select_from(inner.subquery())
        return (await session.execute(query)).scalar_one()

    async def recent(
        self, session: AsyncSession, conversation: Conversation, limit: int
    ) -> list[Message]:
        """The last `limit` user and assistant messages, oldest first (for /history)."""
        query = (
            select(Message)
            .where(Message.conversation_id == conversation.id)
            .where(Message.role.in_([Role.USER, Role.ASSISTANT]))
            .order_by(Message.id.desc())
            .limit(limit)
        )
        rows = list((await session.execute(query)).scalars())
        rows.reverse()
        return rows

    async def unsummarized(
        self, session: AsyncSession, conversation: Conversation, before_id: int
    ) -> list[Message]:
        """Messages after the current summary and before `before_id`, oldest first."""
        query = _after_summary(conversation).where(Message.id < before_id)
        return list((await session.execute(query.order_by(Message.id))).scalars())


def _after_summary(conversation: Conversation) -> Select[tuple[Message]]:
    query = select(Message).where(Message.conversation_id == conversation.id)
    if conversation.summarized_through is not None:
        query = query.where(Message.id > conversation.summarized_through)
    return query


async def _newest(
    session: AsyncSession, conversation: Conversation, before_id: int | None, limit: int
) -> list[Message]:
    query = _after_summary(conversation)
    if before_id is not None:
        query = query.where(Message.id < before_id)
    query = query.order_by(Message.id.desc()).limit(limit)
    return list((await session.execute(query)).scalars())


def _take_fitting(newest_first: list[Message], budget: int) -> list[Message]:
    taken: list[Message] = []
    for message in newest_first:
        if message.token_count > budget:
            break
        taken.append(message)
        budget -= message.token_count
    return taken


async def forget_conversations(session: AsyncSession, conversation_ids: Sequence[int]) -> int:
    """Delete conversations with their messages and artifacts; returns how many messages went."""
    if not conversation_ids:
        return 0
    count_query = select(func.count()).where(Message.conversation_id.in_(conversation_ids))
    removed = (await session.execute(count_query)).scalar_one()
    await session.execute(delete(Conversation).where(Conversation.id.in_(conversation_ids)))
    return removed
