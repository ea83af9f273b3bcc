"""Conversation memory on SQLite and PostgreSQL: what the model is shown, and to whom."""

from __future__ import annotations

from datetime import UTC

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.store.db import Conversation, Message, Role
from agent.store.memory import Memory, forget_conversations
from agent.store.people import find_or_create_conversation, find_or_create_user
from agent.types import Place, UserRef

Sessions = async_sessionmaker[AsyncSession]
CHANNEL = Place(channel_id="c1", guild_id="g1", is_direct=False)


def words(text: str) -> int:
    return len(text.split())


async def conversation_for(session: AsyncSession, name: str, place: Place) -> Conversation:
    user = await find_or_create_user(session, "test", UserRef(name, name.title()))
    return await find_or_create_conversation(session, "test", user, place)


async def fill(sessions: Sessions, name: str, texts: list[str], place: Place = CHANNEL) -> int:
    memory = Memory(words)
    async with sessions() as session, session.begin():
        conversation = await conversation_for(session, name, place)
        drafts = [
            memory.draft(Role.USER if i % 2 == 0 else Role.ASSISTANT, text)
            for i, text in enumerate(texts)
        ]
        await memory.append(session, conversation.id, *drafts)
    return conversation.id


async def window_texts(sessions: Sessions, name: str, budget: int) -> list[str]:
    async with sessions() as session:
        conversation = await conversation_for(session, name, CHANNEL)
        window = await Memory(words).window(session, conversation.id, budget)
    return [m.content for m in window.messages]


async def test_window_keeps_newest_messages_that_fit_oldest_first(sessions: Sessions) -> None:
    await fill(sessions, "ada", [f"message {i} " + "word " * 3 for i in range(10)])  # 5 tokens
    assert await window_texts(sessions, "ada", budget=12) == [
        "message 8 word word word ",
        "message 9 word word word ",
    ]
    assert len(await window_texts(sessions, "ada", budget=1000)) == 10
    assert await window_texts(sessions, "ada", budget=4) == []


async def test_window_pages_through_long_histories(sessions: Sessions) -> None:
    await fill(sessions, "ada", [f"m{i}" for i in range(150)])  # more than one page
    texts = await window_texts(sessions, "ada", budget=140)
    assert texts == [f"m{i}" for i in range(10, 150)]


async def test_users_in_one_channel_never_see_each_other(sessions: Sessions) -> None:
    await fill(sessions, "ada", ["ada's secret plan", "noted"])
    await fill(sessions, "bob", ["bob's sonnet idea", "lovely"])
    assert await window_texts(sessions, "ada", 1000) == ["ada's secret plan", "noted"]
    assert await window_texts(sessions, "bob", 1000) == ["bob's sonnet idea", "lovely"]


async def test_dm_and_channel_are_separate_conversations(sessions: Sessions) -> None:
    await fill(sessions, "ada", ["said in a DM"], place=Place(channel_id="dm-1"))
    await fill(sessions, "ada", ["said in the channel"])
    assert await window_texts(sessions, "ada", 1000) == ["said in the channel"]


async def test_summary_replaces_the_messages_it_covers(sessions: Sessions) -> None:
    conversation_id = await fill(sessions, "ada", [f"m{i}" for i in range(6)])
    async with sessions() as session, session.begin():
        conversation = await session.get(Conversation, conversation_id)
        assert conversation is not None
        older = await Memory(words).unsummarized(session, conversation, before_id=10**9)
        conversation.summary = "ada likes herons"
        conversation.summarized_through = older[3].id
    async with sessions() as session:
        conversation = await conversation_for(session, "ada", CHANNEL)
        window = await Memory(words).window(session, conversation.id, 100)
    assert window.summary == "ada likes herons"
    assert [m.content for m in window.messages] == ["m4", "m5"]
    assert window.tokens == 3 + 2  # the summary's tokens count against the budget


async def test_overflow_counts_only_unsummarized_older_messages_up_to_a_cap(
    sessions: Sessions,
) -> None:
    conversation_id = await fill(sessions, "ada", [f"m{i}" for i in range(30)])
    async with sessions() as session:
        conversation = await session.get(Conversation, conversation_id)
        assert conversation is not None
        window = await Memory(words).window(session, conversation.id, 5)
        assert window.first_id is not None
        memory = Memory(words)
        assert await memory.overflow(session, conversation, window.first_id, cap=100) == 25
        assert await memory.overflow(session, conversation, window.first_id, cap=10) == 10


async def test_times_come_back_in_utc(sessions: Sessions) -> None:
    await fill(sessions, "ada", ["hello"])
    async with sessions() as session:
        message = (await session.execute(select(Message))).scalar_one()
    assert message.created_at.tzinfo is not None
    assert message.created_at.utcoffset() == UTC.utcoffset(None)


async def test_forget_removes_messages_of_those_conversations_only(sessions: Sessions) -> None:
    ada = await fill(sessions, "ada", ["one", "two", "three"])
    await fill(sessions, "bob", ["keep me"])
    async with sessions() as session, session.begin():
        assert await forget_conversations(session, [ada]) == 3
    async with sessions() as session:
        remaining = (await session.execute(select(func.count(Message.id)))).scalar_one()
    assert remaining == 1
    assert await window_texts(sessions, "bob", 100) == ["keep me"]


async def test_append_to_a_forgotten_conversation_stores_nothing(sessions: Sessions) -> None:
    conversation_id = await fill(sessions, "ada", ["hello"])
    async with sessions() as session, session.begin():
        await forget_conversations(session, [conversation_id])
    memory = Memory(words)
    async with sessions() as session, session.begin():
        stored = await memory.append(session, conversation_id, memory.draft(Role.USER, "late"))
    assert not stored
    async with sessions() as session:
        assert (await session.execute(select(func.count(Message.id)))).scalar_one() == 0


async def test_a_renamed_user_keeps_their_history(sessions: Sessions) -> None:
    await fill(sessions, "ada", ["hello"])
    async with sessions() as session, session.begin():
        user = await find_or_create_user(session, "test", UserRef("ada", "Ada L."))
        assert user.display_name == "Ada L."
    assert await window_texts(sessions, "ada", 100) == ["hello"]
