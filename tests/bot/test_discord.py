"""The Discord bot end to end: the real discord.py client against the local fake Discord.

People are played by the test (MESSAGE_CREATE events on the fake's gateway); the bot runs a
real Agent on a fresh database with scripted chat models and the small test tools, so what is
checked is what people would see in Discord and what the bot remembers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
from discord.gateway import DiscordWebSocket
from discord.http import Route
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk
from pydantic import Field
from sqlalchemy import select

from agent.config import Settings, StartupError
from agent.making.decisions import Decision
from agent.store.db import Conversation, User
from bot.discord.client import AtelierBot, run_bot
from bot.discord.render import MESSAGE_LIMIT
from tests.support.fake_discord import FakeDiscord, Payload, SentMessage
from tests.support.studio_tools import PGM_HEADER, SKETCH, TRACE, ScriptedRouter, SketchArgs
from tests.support.workshop import MakeWorkshop, Workshop
from tools.contract import ArtifactDraft, ArtifactKind, Tool, ToolArgs, ToolContext


class ScriptedChat(GenericFakeChatModel):
    """A chat model that answers with the next scripted message (words or tool calls)."""

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedChat:
        return self

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        # Streamed (a chat reply in Discord is): the whole answer as one chunk, its tool calls
        # included, which the base class's word-by-word stream would drop.
        answer = self._generate(messages, stop, **kwargs).generations[0].message
        assert isinstance(answer, AIMessage)
        chunk = AIMessageChunk(content=answer.content, tool_calls=answer.tool_calls, id=answer.id)
        yield ChatGenerationChunk(message=chunk)


def scripted(*answers: str | AIMessage) -> ScriptedChat:
    return ScriptedChat(messages=iter([AIMessage(a) if isinstance(a, str) else a for a in answers]))


class NapArgs(ToolArgs):
    prompt: str = Field("", description="ignored")


def nap(args: NapArgs, context: ToolContext) -> ArtifactDraft:
    """A tool that works (in its worker thread, as model tools do) for five seconds."""
    time.sleep(5.0)
    return ArtifactDraft(ArtifactKind.POEM, text="rested")


NAP = Tool("nap", "Rest a while.", ArtifactKind.POEM, NapArgs, nap)


class Scene:
    """The fake Discord with a server and a channel, two people, and the bot running."""

    def __init__(self, fake: FakeDiscord, bot: AtelierBot, studio: Workshop) -> None:
        self.fake = fake
        self.bot = bot
        self.studio = studio
        self.guild = fake.guilds[0]
        self.channel = self.guild.channel_ids[0]
        self.ada = fake.user("ada")
        self.bob = fake.user("bob")

    @property
    def me(self) -> Payload:
        return self.fake.bot_user

    def mention(self) -> str:
        return f"<@{self.me['id']}>"

    def in_channel(self, author: Payload, text: str, **options: Any) -> Payload:
        return self.fake.message(
            author, text, channel_id=self.channel, guild_id=self.guild.id, **options
        )

    async def say(
        self, payload: Payload, expect: int = 1, timeout: float = 10.0
    ) -> list[SentMessage]:
        """Send a person's message; return the `expect` messages the bot sends after it."""
        before = len(self.fake.sent)
        await self.fake.send_message(payload)
        sent = await self.fake.wait_for_sent(before + expect, timeout)
        return sent[before:]

    async def shown(self) -> dict[int, str]:
        """Each piece, and the Discord message the agent recorded as showing it."""
        messages = await self.studio.messages()
        return {
            m.artifact_id: m.platform_message_id
            for m in messages
            if m.artifact_id and m.platform_message_id
        }


Stage = Callable[..., Any]
T = TypeVar("T")


async def eventually(read: Callable[[], Awaitable[T]], holds: Callable[[T], bool]) -> T:
    """`read()` once `holds` of it (what the bot does after a send), within 5 s."""
    deadline = time.perf_counter() + 5.0
    while not holds(value := await read()) and time.perf_counter() < deadline:
        await asyncio.sleep(0.02)
    return value


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord(heartbeat_interval_ms=500)
    fake.add_guild()
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
def stage(
    fake: FakeDiscord, make_studio: MakeWorkshop, tmp_path: Path
) -> Iterator[Callable[..., Any]]:
    """`async with stage(tools, **workshop options) as scene:` runs a bot over a Workshop."""

    @asynccontextmanager
    async def run(
        tools: Sequence[Tool] = (), file_limit_mb: int = 10, **options: Any
    ) -> AsyncIterator[Scene]:
        studio = make_studio(list(tools), **options)
        settings = Settings(
            data_dir=tmp_path,
            discord_api_base=fake.api_base,
            discord_gateway_url=fake.gateway_url,
            discord_file_limit_mb=file_limit_mb,
        )
        bot = AtelierBot(agent=studio.agent, settings=settings, guild_ready_timeout=0.05)
        task = asyncio.create_task(bot.start(fake.token))
        try:
            await asyncio.wait_for(bot.wait_until_ready(), 10)
            yield Scene(fake, bot, studio)
        finally:
            await bot.close()
            await task

    yield run


async def test_a_mention_is_answered_in_the_channel_and_kept_in_history(
    stage: Stage, fake: FakeDiscord
) -> None:
    async with stage(tool_chat=scripted("Herons stand still in the rain.")) as scene:
        asked = scene.in_channel(
            scene.ada, f"{scene.mention()} tell me about herons", mentions=(scene.me,)
        )
        [answer] = await scene.say(asked)
        messages = await scene.studio.messages()
        async with scene.studio.sessions() as session:
            [conversation] = (await session.execute(select(Conversation))).scalars()
            [user] = (await session.execute(select(User))).scalars()

    assert answer.channel_id == scene.channel
    assert answer.content == "Herons stand still in the rain."
    assert answer.replies_to == asked["id"]  # shown as a reply to Ada's message
    assert answer.pings_nobody
    # "typing..." showed while the agent worked, before the answer came.
    typing = ("POST", f"/channels/{scene.channel}/typing")
    posted = ("POST", f"/channels/{scene.channel}/messages")
    assert fake.requests.index(typing) < fake.requests.index(posted)
    # The mention addressed the bot; what was said is kept without it.
    assert [(m.role, m.content) for m in messages] == [
        ("user", "tell me about herons"),
        ("assistant", "Herons stand still in the rain."),
    ]
    assert (user.platform, user.external_id) == ("discord", scene.ada["id"])
    assert user.display_name == "Ada"
    assert (conversation.kind, conversation.channel_id, conversation.guild_id) == (
        "channel",
        scene.channel,
        scene.guild.id,
    )


async def test_a_direct_message_needs_no_mention(stage: Stage, fake: FakeDiscord) -> None:
    async with stage(tool_chat=scripted("Hello Ada.")) as scene:
        dm = fake.dm_channel()
        [answer] = await scene.say(fake.message(scene.ada, "hello", channel_id=dm))
        async with scene.studio.sessions() as session:
            [conversation] = (await session.execute(select(Conversation))).scalars()

    assert (answer.channel_id, answer.content, answer.replies_to) == (dm, "Hello Ada.", None)
    assert answer.pings_nobody
    assert (conversation.kind, conversation.guild_id) == ("direct", None)


async def test_a_long_answer_arrives_as_three_messages_split_between_lines(stage: Stage) -> None:
    lines = [(f"line {i:03d} " + "of a long answer " * 5)[:89] for i in range(50)]
    long_answer = "\n".join(lines) + "."
    assert len(long_answer) == 4500
    async with stage(tool_chat=scripted(long_answer)) as scene:
        asked = scene.in_channel(scene.ada, f"{scene.mention()} go on", mentions=(scene.me,))
        parts = await scene.say(asked, expect=3)
        await asyncio.sleep(0.2)  # nothing more follows
        assert len(scene.fake.sent) == 3

    assert all(len(part.content) <= MESSAGE_LIMIT for part in parts)
    assert "\n".join(part.content for part in parts) == long_answer
    # Only the first part is a reply; all of them ping no one.
    assert [part.replies_to for part in parts] == [asked["id"], None, None]
    assert all(part.pings_nobody for part in parts)


async def test_generated_everyone_and_user_mentions_do_not_ping(stage: Stage) -> None:
    answer = "@everyone look, <@42> and <@&7> too!"
    async with stage(tool_chat=scripted(answer)) as scene:
        asked = scene.in_channel(scene.ada, f"{scene.mention()} shout", mentions=(scene.me,))
        [sent] = await scene.say(asked)

    assert sent.content == answer
    # parse=[] and no users/roles lists: Discord pings nobody, not even the replied-to person.
    assert sent.allowed_mentions == {"parse": [], "replied_user": False}
    assert sent.pings_nobody


async def test_other_bots_itself_and_unaddressed_messages_are_ignored(stage: Stage) -> None:
    async with stage(tool_chat=scripted("Only to you, Bob.")) as scene:
        fake = scene.fake
        other_bot = fake.user("echo", bot=True)
        ignored = [
            scene.in_channel(other_bot, f"{scene.mention()} hi", mentions=(scene.me,)),
            scene.in_channel(scene.me, f"{scene.mention()} me again", mentions=(scene.me,)),
            scene.in_channel(scene.ada, "just chatting with friends"),
            scene.in_channel(scene.ada, "@everyone dinner!") | {"mention_everyone": True},
        ]
        for payload in ignored:
            await fake.send_message(payload)
        asked = scene.in_channel(scene.bob, f"{scene.mention()} hi", mentions=(scene.me,))
        [answer] = await scene.say(asked)
        await asyncio.sleep(0.2)
        messages = await scene.studio.messages()

    assert len(fake.sent) == 1 and answer.replies_to == asked["id"]
    assert [m.content for m in messages] == ["hi", "Only to you, Bob."]


async def test_a_rate_limited_send_is_retried(stage: Stage) -> None:
    async with stage(tool_chat=scripted("Patience pays.")) as scene:
        scene.fake.inject_429(scene.channel, retry_after=0.3)
        asked = scene.in_channel(scene.ada, f"{scene.mention()} hurry", mentions=(scene.me,))
        [answer] = await scene.say(asked)
        await asyncio.sleep(0.2)

    posts = [r for r in scene.fake.requests if r == ("POST", f"/channels/{scene.channel}/messages")]
    assert len(posts) == 2  # the 429, then the retry that went through
    assert len(scene.fake.sent) == 1 and answer.content == "Patience pays."


async def test_heartbeats_keep_their_interval_while_a_tool_works_for_five_seconds(
    stage: Stage,
) -> None:
    calls_nap = AIMessage("", tool_calls=[{"name": "nap", "args": {}, "id": "call_0"}])
    async with stage([NAP], tool_chat=scripted(calls_nap, "Rested.")) as scene:
        fake = scene.fake
        asked = scene.in_channel(scene.ada, f"{scene.mention()} take a nap", mentions=(scene.me,))
        started = time.perf_counter()
        [answer] = await scene.say(asked, timeout=30)
        finished = time.perf_counter()

    interval = fake.heartbeat_interval_ms / 1000
    during = [t for t in fake.heartbeats if started - interval <= t <= finished + interval]
    gaps = [later - earlier for earlier, later in zip(during, during[1:], strict=False)]
    assert finished - started >= 5.0  # the tool really held the turn
    assert "rested" in answer.content and "Rested." in answer.content
    assert len(during) >= 10
    assert max(gaps) < interval + 1.0, gaps


async def test_a_reply_to_a_shown_piece_makes_it_the_focus(stage: Stage) -> None:
    router = ScriptedRouter(
        {
            "draw a lighthouse": Decision("sketch", SketchArgs(prompt="a lighthouse", seed=1)),
            "draw a harbour": Decision("sketch", SketchArgs(prompt="a harbour", seed=2)),
            "trace it": Decision("trace", SketchArgs(prompt="trace")),
        }
    )
    async with stage([SKETCH, TRACE], router=router) as scene:
        m = scene.mention()
        [lighthouse] = await scene.say(
            scene.in_channel(scene.ada, f"{m} draw a lighthouse", mentions=(scene.me,))
        )
        [harbour] = await scene.say(
            scene.in_channel(scene.ada, f"{m} draw a harbour", mentions=(scene.me,))
        )
        # No mention: a reply to the bot's own message is addressed to it.
        [traced] = await scene.say(scene.in_channel(scene.ada, "trace it", reply_to=lighthouse))
        first, second, third = await scene.studio.artifacts()
        # The agent learns which Discord message showed each piece once it is sent.
        shown = await eventually(scene.shown, lambda shown: len(shown) == 3)

    assert shown == {first.id: lighthouse.id, second.id: harbour.id, third.id: traced.id}

    [file] = lighthouse.files
    assert lighthouse.content == f"#{first.id} image"  # the number to refer to; not a path
    assert file.filename == f"atelier-{first.id}.pgm"
    assert file.data == scene.studio.media.read(first.media_path, first.media_sha256)
    # The older piece, replied to, was traced: not the latest one.
    assert (third.parent_id, third.root_id) == (first.id, first.id)
    assert traced.content == f"#{third.id} image" and second.id != third.parent_id


async def test_an_uploaded_file_is_read_and_one_too_big_is_refused(stage: Stage) -> None:
    router = ScriptedRouter({"trace this": Decision("trace", SketchArgs(prompt="trace"))})
    graymap = PGM_HEADER + bytes(range(256))
    big = b"\0" * (1024 * 1024 + 1)
    async with stage([TRACE], router=router, file_limit_mb=1) as scene:
        fake = scene.fake
        dm = fake.dm_channel()
        upload = (("dot.pgm", "image/x-portable-graymap", graymap),)
        [traced] = await scene.say(
            fake.message(scene.ada, "trace this", channel_id=dm, attachments=upload)
        )
        too_big = (("huge.pgm", "image/x-portable-graymap", big),)
        [refused] = await scene.say(
            fake.message(scene.ada, "trace this", channel_id=dm, attachments=too_big)
        )
        kept, made = await scene.studio.artifacts()
        assert len(await scene.studio.artifacts()) == 2

    assert kept.prompt == "dot.pgm" and made.parent_id == kept.id
    [file] = traced.files
    assert file.data == PGM_HEADER + bytes(255 - v for v in range(256))
    assert refused.content == "huge.pgm is 1.0 MiB; I read files up to 1 MiB. Nothing was stored."


async def test_the_endpoint_settings_apply_only_while_the_bot_runs(stage: Stage) -> None:
    base, gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    async with stage(tool_chat=scripted("hi")) as scene:
        assert scene.fake.api_base == Route.BASE
        assert str(DiscordWebSocket.DEFAULT_GATEWAY) == scene.fake.gateway_url
    assert (base, gateway) == (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
    assert base == "https://discord.com/api/v10"
    # The client asked for exactly what the bot needs: no members intent (with it, discord.py
    # asks for member chunks and waits 5 s for each guild's answer).
    assert scene.fake.identify is not None
    assert scene.fake.identify["intents"] == (1 << 0) | (1 << 9) | (1 << 12) | (1 << 15)


@pytest.mark.parametrize(
    ("token", "close_code", "says"),
    [
        ("not-the-token", None, "Discord refused the bot token"),
        # What Discord does when Message Content Intent is off in the Developer Portal.
        (None, 4014, "switch on 'Message Content Intent'"),
    ],
)
async def test_what_discord_refuses_at_start_is_one_line_for_the_operator(
    make_studio: MakeWorkshop,
    fake: FakeDiscord,
    tmp_path: Path,
    token: str | None,
    close_code: int | None,
    says: str,
) -> None:
    studio = make_studio([])
    fake.close_code_on_identify = close_code
    settings = Settings(
        data_dir=tmp_path, discord_api_base=fake.api_base, discord_gateway_url=fake.gateway_url
    )
    with pytest.raises(StartupError, match=says):
        await asyncio.wait_for(run_bot(studio.agent, settings, token or fake.token), 10)
