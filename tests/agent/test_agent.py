"""The chat turn: what is stored, what the model is shown, and what people are told."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import SystemMessage
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.chat.model import build_chat_model
from agent.chat.replies import ChatReplies
from agent.config import Settings
from agent.jobs import JobLimits, Jobs
from agent.making.decisions import AlwaysAnswer
from agent.making.studio import Studio
from agent.store.db import Conversation, Message
from agent.store.media import MediaStore
from agent.store.memory import Memory, TokenCounter
from agent.turns import Agent
from agent.types import Command, Place, Turn, UserRef
from tests.support.chat_doubles import BrokenChat, RecordingChat
from tests.support.loop_watch import watching_the_loop
from tools.contract import NoModels
from tools.models.text import LoadedCausalLM

Sessions = async_sessionmaker[AsyncSession]


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {"data_dir": tmp_path, "max_new_tokens": 8, "temperature": 0.0}
    return Settings(**(values | overrides))


def make_agent(
    sessions: Sessions, settings: Settings, chat: BaseChatModel, counter: TokenCounter
) -> Agent:
    """An agent with no creative tools: every turn is chat or an account command."""
    memory = Memory(counter)
    media = MediaStore(settings.data_dir / "media")
    studio = Studio(tools=(), jobs=Jobs(JobLimits()), models=NoModels(), media=media)
    replies = ChatReplies(settings=settings, sessions=sessions, chat_model=chat, memory=memory)
    return Agent(
        settings=settings,
        sessions=sessions,
        memory=memory,
        studio=studio,
        replies=replies,
        router=AlwaysAnswer(),
    )


def turn(text: str = "", user: str = "ada", command: Command | None = None) -> Turn:
    return Turn("test", UserRef(user, user.title()), Place(channel_id="dm"), text, command=command)


async def stored_messages(sessions: Sessions) -> int:
    async with sessions() as session:
        return (await session.execute(select(func.count(Message.id)))).scalar_one()


@pytest.fixture
def recording(tiny_chat: LoadedCausalLM, tmp_path: Path) -> RecordingChat:
    return RecordingChat(inner=build_chat_model(make_settings(tmp_path), tiny_chat))


@pytest.fixture
def agent(
    sessions: Sessions, tmp_path: Path, recording: RecordingChat, tiny_chat: LoadedCausalLM
) -> Agent:
    return make_agent(sessions, make_settings(tmp_path), recording, tiny_chat.count_tokens)


async def test_a_turn_stores_the_message_and_the_reply(agent: Agent, sessions: Sessions) -> None:
    reply = await agent.respond(turn("hello there"))
    assert reply.stored and reply.text
    async with sessions() as session:
        rows = (await session.execute(select(Message).order_by(Message.id))).scalars().all()
    assert [(m.role, m.content) for m in rows] == [
        ("user", "hello there"),
        ("assistant", reply.text),
    ]
    assert rows[0].token_count > 0


async def test_the_next_turn_remembers_the_last(agent: Agent, recording: RecordingChat) -> None:
    first = await agent.respond(turn("my favourite bird is the heron"))
    await agent.respond(turn("what is my favourite bird?"))
    prompt = recording.prompts[-1]
    assert isinstance(prompt[0], SystemMessage)
    assert [m.content for m in prompt[1:]] == [
        "my favourite bird is the heron",
        first.text,
        "what is my favourite bird?",
    ]


async def test_another_user_is_not_shown_my_messages(
    agent: Agent, recording: RecordingChat
) -> None:
    await agent.respond(turn("my secret is the heron", user="ada"))
    await agent.respond(turn("hello", user="bob"))
    shown = " ".join(str(m.content) for m in recording.prompts[-1])
    assert "heron" not in shown


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
async def test_empty_message_gets_a_hint_and_is_not_stored(
    agent: Agent, sessions: Sessions, text: str
) -> None:
    reply = await agent.respond(turn(text))
    assert not reply.stored and "Say something" in reply.text
    assert await stored_messages(sessions) == 0


async def test_overlong_message_is_refused_and_not_stored(agent: Agent, sessions: Sessions) -> None:
    reply = await agent.respond(turn("x" * 4001))
    assert not reply.stored
    assert "4,001" in reply.text and "4,000" in reply.text
    assert await stored_messages(sessions) == 0
    assert (await agent.respond(turn("x" * 4000))).stored


async def test_a_failing_model_stores_nothing_and_gives_a_reference(
    sessions: Sessions, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    agent = make_agent(sessions, make_settings(tmp_path), BrokenChat(), lambda t: len(t.split()))
    reply = await agent.respond(turn("hello"))
    assert not reply.stored and "ref " in reply.text
    reference = reply.text.split("ref ")[1].split(")")[0]
    assert any(reference in r.getMessage() for r in caplog.records)
    assert await stored_messages(sessions) == 0


async def test_history_shows_only_my_turns(agent: Agent) -> None:
    await agent.respond(turn("ada writes about herons", user="ada"))
    await agent.respond(turn("bob writes about foxes", user="bob"))
    history = await agent.respond(turn(user="ada", command=Command("history")))
    assert "ada writes about herons" in history.text and "foxes" not in history.text
    empty = await agent.respond(turn(user="cy", command=Command("history")))
    assert "No history" in empty.text


async def test_forget_asks_first_then_deletes_only_mine(agent: Agent, sessions: Sessions) -> None:
    await agent.respond(turn("remember me", user="ada"))
    await agent.respond(turn("and me", user="bob"))
    asked = await agent.respond(turn(user="ada", command=Command("forget")))
    assert "To confirm, send /forget again with yes." in asked.text
    assert await stored_messages(sessions) == 4
    done = await agent.respond(turn(user="ada", command=Command("forget", text="yes")))
    assert "1 conversation, 2 messages" in done.text
    assert await stored_messages(sessions) == 2
    history = await agent.respond(turn(user="ada", command=Command("history")))
    assert "No history" in history.text


async def test_unknown_command_lists_the_known_ones(agent: Agent) -> None:
    reply = await agent.respond(turn(command=Command("paint")))
    assert "/paint" in reply.text and "/history" in reply.text and not reply.stored


async def test_old_messages_are_folded_into_a_summary(
    sessions: Sessions, tmp_path: Path, recording: RecordingChat, tiny_chat: LoadedCausalLM
) -> None:
    # A tiny window: only the last few exchanges fit, so older ones overflow into a summary.
    settings = make_settings(tmp_path, context_tokens=256, summary_batch=4, max_new_tokens=8)
    agent = make_agent(sessions, settings, recording, tiny_chat.count_tokens)
    for i in range(12):
        await agent.respond(turn(f"message number {i} " + "about herons " * 8))
    async with sessions() as session:
        conversation = (await session.execute(select(Conversation))).scalar_one()
    assert conversation.summary and conversation.summarized_through is not None
    summary_prompt = next(p for p in recording.prompts if "Summarize" in str(p[0].content))
    assert "message number 0" in str(summary_prompt[-1].content)
    await agent.respond(turn("and now?"))
    last_prompt = next(p for p in reversed(recording.prompts) if p[-1].content == "and now?")
    assert conversation.summary in str(last_prompt[0].content)
    assert "message number 0" not in " ".join(str(m.content) for m in last_prompt[1:])


async def test_the_reply_path_never_blocks_the_event_loop(
    sessions: Sessions, tmp_path: Path, smollm2: LoadedCausalLM, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(tmp_path, max_new_tokens=48)
    chat = build_chat_model(settings, smollm2)
    agent = make_agent(sessions, settings, chat, smollm2.count_tokens)
    await agent.respond(turn("warm up"))  # first use imports driver code; not a turn's cost
    async with watching_the_loop(caplog) as watch:
        started = time.perf_counter()
        reply = await agent.respond(turn("Tell me about herons in the rain."))
        elapsed = time.perf_counter() - started
    assert reply.stored and elapsed > 0.5  # the model really generated for a while
    assert watch.slow == []
    assert max(watch.gaps) < 0.1 + 0.01


async def test_the_blocking_detector_catches_a_blocked_loop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Control for the test above: the same set-up must flag a callback that blocks.
    loop = asyncio.get_running_loop()
    loop.set_debug(True)
    loop.slow_callback_duration = 0.1
    caplog.set_level(logging.WARNING, logger="asyncio")

    async def blocking() -> None:
        time.sleep(0.15)

    await asyncio.create_task(blocking())
    assert any(r.name == "asyncio" and "took" in r.getMessage() for r in caplog.records)


async def test_messages_sent_at_once_at_a_new_place_share_one_history(
    agent: Agent, sessions: Sessions
) -> None:
    replies = await asyncio.gather(*(agent.respond(turn(f"hello {n}")) for n in range(8)))
    assert all(reply.stored for reply in replies)
    async with sessions() as session:
        conversations = (await session.execute(select(func.count(Conversation.id)))).scalar_one()
    assert conversations == 1 and await stored_messages(sessions) == 16
