"""Conversation history: append messages, build the context window, keep a rolling summary.

The context window is what the chat model sees: the system prompt and the rolling summary of
older talk first, then the newest messages that fit the token budget. Token counts are taken
once, when a message is stored, so building a window reads a few rows through the
(conversation_id, id) index and never re-tokenizes history.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Insert, Select, bindparam, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agent.store.db import Conversation, Message, Role, utcnow

TokenCounter = Callable[[str], int]
AnySelect = TypeVar("AnySelect", bound=Select[Any])

# Rows fetched per round trip while filling a window; most windows fit in one page.
PAGE = 64


@dataclass(frozen=True)
class MessageDraft:
    """A message with its tokens counted, not yet stored."""

    role: Role
    content: str
    token_count: int
    author_id: int | None = None
    platform_message_id: str | None = None
    # Set on the message that presents what a tool made.
    tool_name: str | None = None
    tool_args: dict[str, Any] | None = None
    artifact_id: int | None = None


class WindowMessage(NamedTuple):
    """A stored message as the context window needs it.

    Plain rows, not ORM objects: building a window is on every turn's path, and loading a few
    columns as tuples costs a fraction of instantiating and tracking full `Message` objects.
    """

    id: int
    role: str
    content: str
    token_count: int
    author_id: int | None = None  # who wrote it, for a session's labels ("Ada: ...")


@dataclass(frozen=True)
class ContextWindow:
    summary: str | None
    messages: Sequence[WindowMessage]  # oldest first
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
        tool_name: str | None = None,
        tool_args: dict[str, Any] | None = None,
        artifact_id: int | None = None,
    ) -> MessageDraft:
        """Counting happens here, before a transaction opens, so the tokenizer never runs
        while SQLite's write lock is held."""
        return MessageDraft(
            role=role,
            content=content,
            token_count=self._count_tokens(content),
            author_id=author_id,
            platform_message_id=platform_message_id,
            tool_name=tool_name,
            tool_args=tool_args,
            artifact_id=artifact_id,
        )

    async def append(
        self, session: AsyncSession, conversation_id: int, *drafts: MessageDraft
    ) -> bool:
        """Store drafted messages; False, storing nothing, when the conversation no longer
        exists (forgotten while a reply was being written)."""
        now = utcnow()
        stored = 0
        # One statement per message that checks the conversation and inserts: on aiosqlite
        # every statement is several thread round trips, so a turn's store stays cheap.
        for draft in drafts:
            params = {"conversation_id": conversation_id, "created_at": now, **asdict(draft)}
            stored += (await session.execute(_APPEND, params)).rowcount
        return stored > 0

    async def mark_shown(
        self, session: AsyncSession, artifact_ids: Sequence[int], platform_message_id: str
    ) -> int:
        """Name the platform message that showed these artifacts (their ids) on the messages
        that present them, so a reply to that message is about them. A message already named
        keeps its first name. Returns how many messages were named."""
        if not artifact_ids:
            return 0
        statement = (
            update(Message)
            .where(
                Message.artifact_id.in_(artifact_ids),
                Message.role == Role.ASSISTANT,
                Message.platform_message_id.is_(None),
            )
            .values(platform_message_id=platform_message_id)
        )
        return (await session.execute(statement)).rowcount

    async def window(
        self, session: AsyncSession, conversation_id: int, budget_tokens: int
    ) -> ContextWindow:
        """The summary, and the newest messages after it whose token counts fit the budget
        left once the summary is counted."""
        summary, page = await _newest(session, conversation_id, None)
        remaining = budget_tokens - (self._count_tokens(summary) if summary else 0)
        kept: list[WindowMessage] = []
        while True:
            fitting = _take_fitting(page, remaining)
            kept.extend(fitting)
            remaining -= sum(m.token_count for m in fitting)
            if len(fitting) < len(page) or len(page) < PAGE:
                break
            _, page = await _newest(session, conversation_id, before_id=page[-1].id)
        kept.reverse()
        return ContextWindow(summary, kept, budget_tokens - remaining)

    async def overflow(
        self, session: AsyncSession, conversation: Conversation, before_id: int, cap: int
    ) -> int:
        """How many messages (at most `cap`) lie between the summary and `before_id`."""
        inner = _after_summary(conversation, select(Message.id))
        inner = inner.where(Message.id < before_id).limit(cap)
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
        query = _after_summary(conversation, select(Message)).where(Message.id < before_id)
        return list((await session.execute(query.order_by(Message.id))).scalars())


def _after_summary(conversation: Conversation, query: AnySelect) -> AnySelect:
    """`query` narrowed to the conversation's messages that the summary does not cover."""
    query = query.where(Message.conversation_id == conversation.id)
    if conversation.summarized_through is not None:
        query = query.where(Message.id > conversation.summarized_through)
    return query


async def _newest(
    session: AsyncSession, conversation_id: int, before_id: int | None
) -> tuple[str | None, list[WindowMessage]]:
    """The conversation's summary and up to PAGE of its newest unsummarized messages.

    One statement for both (each statement is a thread round trip on aiosqlite), and one
    that both SQLite and PostgreSQL answer with a backward scan of the (conversation_id, id)
    index that stops after PAGE rows, however long the history.
    """
    this_conversation = Conversation.id == conversation_id
    summary = select(Conversation.summary).where(this_conversation)
    summarized_through = select(func.coalesce(Conversation.summarized_through, 0)).where(
        this_conversation
    )
    query = (
        select(
            summary.scalar_subquery().label("summary"),
            Message.id,
            Message.role,
            Message.content,
            Message.token_count,
            Message.author_id,
        )
        .where(Message.conversation_id == conversation_id)
        .where(Message.id > summarized_through.scalar_subquery())
        .order_by(Message.id.desc())
        .limit(PAGE)
    )
    if before_id is not None:
        query = query.where(Message.id < before_id)
    rows = (await session.execute(query)).all()
    if rows:
        return rows[0].summary, [WindowMessage._make(row[1:]) for row in rows]
    # Nothing after the summary (or no conversation): the summary alone, if any.
    return (await session.execute(summary)).scalar_one_or_none(), []


def _append_statement() -> Insert:
    """INSERT INTO messages ... SELECT ... FROM conversations WHERE id = :conversation_id."""
    table = Message.__table__
    columns = (
        *(field.name for field in fields(MessageDraft)),
        "created_at",
    )
    values = [bindparam(name, type_=table.c[name].type) for name in columns]
    source = select(Conversation.id, *values).where(Conversation.id == bindparam("conversation_id"))
    return insert(table).from_select(["conversation_id", *columns], source)


_APPEND = _append_statement()


def _take_fitting(newest_first: list[WindowMessage], budget: int) -> list[WindowMessage]:
    taken: list[WindowMessage] = []
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
