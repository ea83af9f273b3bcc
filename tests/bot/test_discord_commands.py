"""Slash commands, buttons and modals end to end: the real discord.py client against the fake.

People are played by the test (INTERACTION_CREATE events on the fake's gateway); the bot runs
a real Agent on a fresh database with small stand-in tools named like the real ones (the real
poem model takes tens of seconds here), so what is checked is what people see in Discord:
the command list, the "thinking..." message and its progress, the follow-ups with files and
buttons, refusals only they see, and what the bot remembers.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import Field, model_validator
from sqlalchemy import select

from agent.config import Settings
from agent.making.decisions import Decision
from agent.store.db import Artifact
from bot.discord.client import AtelierBot
from bot.discord.options import tool_options
from tests.support.fake_discord import (
    AUTOCOMPLETE_RESULT,
    MESSAGE,
    MODAL,
    FakeDiscord,
    InteractionLog,
    Payload,
    SentMessage,
)
from tests.support.studio_tools import BROKEN, PGM, PGM_HEADER, ScriptedRouter
from tests.support.workshop import MakeWorkshop, Workshop
from tools.contract import ArtifactDraft, ArtifactKind, Media, Tool, ToolArgs, ToolContext
from tools.image.tool import IMAGE_TOOL
from tools.models.registry import ModelRegistry
from tools.poem.forms import FORMS
from tools.poem.tool import POEM_TOOL

STAGE_S = 0.5  # each stand-in stage; three make a run of 1.5 s


class PictureArgs(ToolArgs):
    prompt: str = Field("", description="what to draw", max_length=1000)
    aspect: Literal["1:1", "3:2", "2:3"] = Field("1:1", description="aspect ratio")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="the random seed")
    revise: bool = Field(False, description="change the picture in focus")
    mode: Literal["new", "vary"] | None = Field(None, description="new, or vary the one in focus")

    @model_validator(mode="after")
    def _something_to_draw(self) -> PictureArgs:
        if not self.prompt.strip() and self.mode != "vary":
            raise ValueError("What should the image be about?")
        return self


def paint(args: PictureArgs, context: ToolContext) -> ArtifactDraft:
    """Three stages with progress, as a diffusion model's steps; a picture of its prompt, or
    a new version of the picture in focus when asked to change it or named as #N."""
    for step, stage in enumerate(("sketching", "inking", "colouring")):
        context.progress(step / 3, stage)
        time.sleep(STAGE_S)
        context.check()
    focus = context.focus
    changes = focus is not None and (args.revise or args.mode == "vary" or args.piece is not None)
    pixels = hashlib.sha256(f"{args.seed}:{args.prompt}:{args.piece}".encode()).digest() * 8
    fields = {"asked": args.prompt, "mode": args.mode, "piece": args.piece}
    return ArtifactDraft(
        ArtifactKind.IMAGE,
        media=Media(PGM_HEADER + pixels[:256], PGM),
        params={"aspect": args.aspect, **{key: value for key, value in fields.items() if value}},
        from_focus=changes,
    )


class VerseArgs(ToolArgs):
    prompt: str = Field(description="what the poem is about", min_length=1, max_length=1000)
    form: str | None = Field(None, description="the form")
    mode: Literal["new", "vary"] | None = Field(None, description="new, or vary the one in focus")


def verse(args: VerseArgs, context: ToolContext) -> ArtifactDraft:
    """A two-line poem that says which piece was in focus."""
    context.progress(0.0, "writing")
    time.sleep(STAGE_S)
    after = "nothing" if context.focus is None else f"#{context.focus.number}"
    return ArtifactDraft(
        ArtifactKind.POEM, text=f"a {args.form or 'free verse'} on {args.prompt}\nafter {after}"
    )


class RequiredLast(ToolArgs):
    seed: int = Field(0, description="the random seed")
    prompt: str = Field(description="what the poem is about")


class NapArgs(ToolArgs):
    prompt: str = Field("", description="ignored")


def nap(args: NapArgs, context: ToolContext) -> ArtifactDraft:
    time.sleep(5.0)  # in its worker thread, as model tools work
    return ArtifactDraft(ArtifactKind.MUSIC, text="rested")


IMAGE = Tool(
    "image",
    "Draw a picture.",
    ArtifactKind.IMAGE,
    PictureArgs,
    paint,
    revision=lambda instruction: PictureArgs(prompt=instruction, revise=True),
    variation={"mode": "vary"},
)
POEM = Tool(
    "poem",
    "Write a poem.",
    ArtifactKind.POEM,
    VerseArgs,
    verse,
    variation={"mode": "vary", "prompt": "the same again"},
)
NAP = Tool("nap", "Rest a while.", ArtifactKind.MUSIC, NapArgs, nap)


class Scene:
    """The fake Discord with a server, two people, and the bot (restartable) running."""

    def __init__(self, fake: FakeDiscord, studio: Workshop, start: Callable[[], Any]) -> None:
        self.fake = fake
        self.studio = studio
        self._start = start
        self.bot: AtelierBot | None = None
        self._task: asyncio.Task[None] | None = None
        self.channel = fake.guilds[0].channel_ids[0]
        self.guild = fake.guilds[0].id
        self.ada = fake.user("ada")
        self.bob = fake.user("bob")

    async def start(self) -> None:
        self.bot, self._task = await self._start()

    async def stop(self) -> None:
        if self.bot is not None and self._task is not None:
            await self.bot.close()
            await self._task
        self.bot = self._task = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def slash(self, user: Payload, name: str, **options: Any) -> InteractionLog:
        return await self.fake.slash(
            user, name, channel_id=self.channel, guild_id=self.guild, **options
        )

    async def click(self, user: Payload, message: SentMessage, action: str) -> InteractionLog:
        [custom_id] = [c for c in message.buttons if c.startswith(f"atelier:{action}:")]
        return await self.fake.click(user, message, custom_id, guild_id=self.guild)

    async def answered(self, log: InteractionLog, followups: int = 1) -> InteractionLog:
        """Wait until the bot has answered `log` with this many follow-ups (or a message)."""

        def done(log: InteractionLog) -> bool:
            if log.callbacks and log.callbacks[0].type in (MESSAGE, MODAL):
                return True
            final = [edit for edit in log.edits if not edit.content.startswith("⏳")]
            return len(log.followups) >= followups and bool(final)

        return await self.fake.wait_for_interaction(log, done, timeout=20)

    async def artifacts(self) -> list[Artifact]:
        async with self.studio.sessions() as session:
            return list((await session.execute(select(Artifact).order_by(Artifact.id))).scalars())


Stage = Callable[..., Any]


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord(heartbeat_interval_ms=500)
    fake.add_guild()
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
def stage(fake: FakeDiscord, make_studio: MakeWorkshop, tmp_path: Path) -> Iterator[Stage]:
    """`async with stage(tools, **settings) as scene:` runs a bot over a Workshop."""

    @asynccontextmanager
    async def run(
        tools: Sequence[Tool] = (IMAGE, POEM),
        router: ScriptedRouter | None = None,
        models: ModelRegistry | None = None,
        **settings: Any,
    ) -> AsyncIterator[Scene]:
        studio = make_studio(list(tools), router=router, models=models)
        config = Settings(
            data_dir=tmp_path,
            discord_api_base=fake.api_base,
            discord_gateway_url=fake.gateway_url,
            **settings,
        )

        async def start() -> tuple[AtelierBot, asyncio.Task[None]]:
            # The scene's studio as it is now: a test may restart over a new agent.
            bot = AtelierBot(agent=scene.studio.agent, settings=config, guild_ready_timeout=0.05)
            task = asyncio.create_task(bot.start(fake.token))
            await asyncio.wait_for(bot.wait_until_ready(), 10)
            return bot, task

        scene = Scene(fake, studio, start)
        await scene.start()
        try:
            yield scene
        finally:
            await scene.stop()

    yield run


def option(command: Payload, name: str) -> Payload:
    return next(o for o in command["options"] if o["name"] == name)


async def test_commands_are_registered_from_the_tools_with_typed_options(
    stage: Stage, fake: FakeDiscord
) -> None:
    async with stage([IMAGE, POEM_TOOL]):
        registered = dict(fake.commands)

    assert set(registered) == {
        "image",
        "poem",
        "help",
        "history",
        "forget",
        "show",
        "versions",
        "diff",
        "keep",
        "export",
        "undo",  # tests/bot/test_discord_undo.py
        "taste",  # tests/bot/test_discord_taste.py
        "session",  # a group of subcommands (tests/bot/test_discord_sessions.py)
        "settings",  # a group for the server's admins (tests/bot/test_discord_settings.py)
    }
    poem, image = registered["poem"], registered["image"]
    # The real poem tool: its forms are choices, its language a Literal, its seed bounded.
    forms = option(poem, "form")["choices"]
    assert [choice["value"] for choice in forms] == list(FORMS)
    assert {"name": "五言绝句 (wujue)", "value": "wujue"} in forms
    assert [c["value"] for c in option(poem, "lang")["choices"]] == ["en", "zh"]
    assert (option(poem, "seed")["min_value"], option(poem, "seed")["max_value"]) == (0, 2**31 - 1)
    # Not required: a variation (mode=vary) takes its subject from the poem in focus; a new
    # poem with no prompt is asked what it should be about (tests/tools/poem/test_poem.py).
    assert not option(poem, "prompt")["required"] and option(poem, "prompt")["max_length"] == 1000
    assert option(poem, "add_stanza")["type"] == 5  # boolean
    modes = [c["value"] for c in option(poem, "mode")["choices"]]
    assert modes == ["new", "revise", "vary", "picture"]  # picture: a poem about the one in focus
    late = Tool("late", "Required last.", ArtifactKind.POEM, RequiredLast, verse)
    assert [o.name for o in tool_options(late)][0] == "prompt"  # required options first
    assert [c["value"] for c in option(image, "aspect")["choices"]] == ["1:1", "3:2", "2:3"]
    # Every tool can name a piece to work from, suggested from the person's own pieces.
    assert option(image, "piece")["autocomplete"] and option(image, "piece")["type"] == 4
    assert option(registered["show"], "piece")["autocomplete"]
    undo, taste = registered["undo"], registered["taste"]
    assert option(undo, "piece")["autocomplete"] and not option(undo, "piece")["required"]
    choices = [c["value"] for c in option(taste, "clear")["choices"]]
    assert choices == ["poems", "pictures", "music", "all"]
    assert all(len(c["description"]) <= 100 for c in registered.values())


async def delivery_recorded(studio: Workshop, message_id: str) -> list[Any]:
    """The stored messages once the follow-up's delivery is recorded: the bot records it just
    after Discord accepts the message, so a loaded machine may read the store before then."""
    deadline = time.monotonic() + 20
    while True:
        shown = await studio.messages()
        if any(m.platform_message_id == message_id for m in shown) or time.monotonic() > deadline:
            return shown
        await asyncio.sleep(0.02)


async def test_image_is_deferred_shows_progress_and_follows_up_with_the_file(
    stage: Stage,
) -> None:
    async with stage() as scene:
        log = await scene.slash(scene.ada, "image", prompt="a lighthouse @everyone", aspect="3:2")
        await scene.answered(log)
        [made] = await scene.artifacts()
        shown = await delivery_recorded(scene.studio, log.followups[0].id)

    assert log.acknowledged_in is not None and log.acknowledged_in < 3.0
    assert log.deferred and not log.callbacks[0].ephemeral
    progress = [edit for edit in log.edits if "%" in edit.content]
    assert len(progress) >= 2 and progress[0].content.startswith("⏳ image: sketching (0%)")
    # At most one edit a second while the tool reports a stage every 0.5 s.
    gaps = [b.at - a.at for a, b in zip(progress, progress[1:], strict=False)]
    assert all(gap >= 0.9 for gap in gaps), gaps
    assert log.edits[-1].content.startswith(f"✓ Made #{made.id} image")
    [followup] = log.followups
    [file] = followup.files
    assert file.filename == f"atelier-{made.id}.pgm"
    assert file.data == scene.studio.media.read(made.media_path, made.media_sha256)
    assert followup.content == f"#{made.id} image"
    assert followup.pings_nobody and all(edit.body["allowed_mentions"] for edit in log.edits)
    assert made.params == {"aspect": "3:2", "asked": "a lighthouse @everyone"}
    # Kept in the history as the person would type it in the console.
    assert (shown[0].role, shown[0].content) == ("user", "/image aspect=3:2 a lighthouse @everyone")
    # Buttons under the piece, naming it and who asked for it.
    owner = scene.ada["id"]
    assert followup.buttons == {
        f"atelier:vary:image:{made.id}:{owner}": "Variation",
        f"atelier:revise:image:{made.id}:{owner}": "Revise",
        f"atelier:keep:image:{made.id}:{owner}": "Keep",
    }
    # The follow-up is recorded as showing the piece: a reply to it is about it.
    assert any(m.platform_message_id == followup.id for m in shown if m.artifact_id == made.id)


async def test_the_real_image_tool_on_tiny_models_answers_with_a_png(
    stage: Stage, tiny_models: ModelRegistry
) -> None:
    async with stage([IMAGE_TOOL], models=tiny_models) as scene:
        log = await scene.slash(scene.ada, "image", prompt="a lighthouse in fog")
        await scene.answered(log)
        [made] = await scene.artifacts()

    assert log.deferred and log.acknowledged_in is not None and log.acknowledged_in < 3.0
    assert any(edit.content.startswith("⏳ image:") and "%" in edit.content for edit in log.edits)
    assert log.edits[-1].content.startswith(f"✓ Made #{made.id} image")
    [followup] = log.followups
    [file] = followup.files
    assert file.filename == f"atelier-{made.id}.png"
    assert file.data == scene.studio.media.read(made.media_path, made.media_sha256)
    assert file.data.startswith(b"\x89PNG\r\n\x1a\n")


async def test_poem_with_a_form_choice_and_a_named_piece(stage: Stage) -> None:
    async with stage() as scene:
        first = await scene.answered(await scene.slash(scene.ada, "poem", prompt="a heron"))
        await scene.answered(await scene.slash(scene.ada, "image", prompt="a heron"))
        log = await scene.slash(scene.ada, "poem", prompt="the river", form="haiku", piece=1)
        await scene.answered(log)
        heron, _, poem = await scene.artifacts()
        said = [m.content for m in await scene.studio.messages() if m.role == "user"]

    assert first.deferred and log.deferred and log.acknowledged_in < 3.0  # type: ignore[operator]
    # The piece named (#1), not the latest (#2), was the one in focus; the form was chosen.
    assert (heron.id, poem.text) == (1, "a haiku on the river\nafter #1")
    assert said[-1] == "/poem piece=1 form=haiku the river"  # the fields, as a console types them
    [followup] = log.followups
    assert followup.content == f"{poem.text}\n#{poem.id} poem a haiku on the river"
    assert list(followup.buttons.values()) == ["Variation", "Revise", "Keep"]


async def test_a_variation_button_works_after_the_bot_restarts(stage: Stage) -> None:
    async with stage() as scene:
        made = await scene.answered(await scene.slash(scene.ada, "image", prompt="a harbour"))
        [under] = made.followups
        await scene.restart()  # nothing of the first bot's views is left in memory
        pressed = await scene.click(scene.ada, under, "vary")
        await scene.answered(pressed)
        original, variation = await scene.artifacts()

    assert pressed.deferred and pressed.acknowledged_in < 3.0  # type: ignore[operator]
    assert (variation.parent_id, variation.root_id) == (original.id, original.id)
    # The press reaches the tool as fields: no English for it to read back.
    assert variation.params == {"aspect": "1:1", "mode": "vary", "piece": original.id}
    [followup] = pressed.followups
    assert followup.files and followup.content == f"#{variation.id} image"
    assert f"atelier:vary:image:{variation.id}:{scene.ada['id']}" in followup.buttons


async def test_a_slash_commands_piece_and_mode_reach_the_tool_as_fields(stage: Stage) -> None:
    async with stage() as scene:
        await scene.answered(await scene.slash(scene.ada, "image", prompt="a harbour"))
        await scene.answered(await scene.slash(scene.ada, "image", prompt="a quay"))
        first, _ = await scene.artifacts()
        pressed = await scene.slash(scene.ada, "image", piece=first.id, mode="vary")
        await scene.answered(pressed)
        *_, variation = await scene.artifacts()

    assert variation.params == {"aspect": "1:1", "mode": "vary", "piece": first.id}
    assert (variation.parent_id, variation.root_id) == (first.id, first.id)  # not the latest


async def test_a_piece_made_in_chat_has_buttons_that_work(stage: Stage) -> None:
    router = ScriptedRouter({"draw a heron": Decision("image", PictureArgs(prompt="a heron"))})
    async with stage(router=router) as scene:
        fake = scene.fake
        mention = f"<@{fake.bot_user['id']}>"
        asked = fake.message(
            scene.ada,
            f"{mention} draw a heron",
            channel_id=scene.channel,
            guild_id=scene.guild,
            mentions=(fake.bot_user,),
        )
        await fake.send_message(asked)
        [answer] = await fake.wait_for_sent(1, timeout=20)
        pressed = await scene.answered(await scene.click(scene.ada, answer, "vary"))
        original, variation = await scene.artifacts()

    assert answer.replies_to == asked["id"] and answer.files
    assert list(answer.buttons.values()) == ["Variation", "Revise", "Keep"]
    assert variation.parent_id == original.id
    assert pressed.followups[0].content == f"#{variation.id} image"


async def test_another_persons_click_is_refused_only_to_them(stage: Stage) -> None:
    async with stage() as scene:
        made = await scene.answered(await scene.slash(scene.ada, "image", prompt="a harbour"))
        [under] = made.followups
        refused = await scene.answered(await scene.click(scene.bob, under, "vary"))
        kept = await scene.answered(await scene.click(scene.bob, under, "keep"))
        pieces = await scene.artifacts()

    for log in (refused, kept):
        [answer] = log.callbacks
        assert answer.type == MESSAGE and answer.ephemeral
        assert answer.content.startswith("Only the person who asked for #1 can use its buttons")
        assert not log.followups
    assert len(pieces) == 1 and pieces[0].kept_at is None


async def test_with_buttons_for_everyone_others_vary_but_never_keep_or_revise(
    stage: Stage,
) -> None:
    async with stage(discord_buttons_for_everyone=True) as scene:
        made = await scene.answered(await scene.slash(scene.ada, "image", prompt="a harbour"))
        [under] = made.followups
        varied = await scene.answered(await scene.click(scene.bob, under, "vary"))
        kept = await scene.answered(await scene.click(scene.bob, under, "keep"))
        revised = await scene.answered(await scene.click(scene.bob, under, "revise"))
        original, variation = await scene.artifacts()

    assert variation.parent_id == original.id
    assert variation.creator_id == original.creator_id  # in Ada's conversation, where it lives
    [followup] = varied.followups
    assert f"atelier:keep:image:{variation.id}:{scene.ada['id']}" in followup.buttons
    for refused in (kept, revised):  # Bob's words never revise Ada's piece; no modal opens
        [answer] = refused.callbacks
        assert answer.ephemeral and "Keep and Revise are always theirs" in answer.content
        assert refused.modal is None


async def test_revise_asks_for_the_change_in_a_modal(stage: Stage) -> None:
    async with stage() as scene:
        made = await scene.answered(await scene.slash(scene.ada, "image", prompt="a harbour"))
        [under] = made.followups
        opened = await scene.answered(await scene.click(scene.ada, under, "revise"))
        assert opened.acknowledged_in < 3.0  # type: ignore[operator]
        assert opened.modal is not None and opened.modal["title"] == "Revise #1"
        submitted = await scene.fake.submit_modal(scene.ada, opened, "at night")
        await scene.answered(submitted)
        original, revised = await scene.artifacts()

    assert submitted.deferred
    assert revised.parent_id == original.id and revised.params["asked"] == "at night"
    said = [m.content for m in await scene.studio.messages() if m.role == "user"]
    assert said[-1] == "/image prompt=at night revise=true piece=1"


async def test_keep_button_keeps_the_piece_and_says_so_privately(stage: Stage) -> None:
    async with stage() as scene:
        made = await scene.answered(await scene.slash(scene.ada, "image", prompt="a harbour"))
        keep = await scene.click(scene.ada, made.followups[0], "keep")
        kept = await scene.answered(keep, followups=0)
        [piece] = await scene.artifacts()

    assert kept.deferred and kept.callbacks[0].ephemeral
    assert kept.edits[-1].content == "Kept #1. Your next images will lean toward it."
    assert piece.kept_at is not None


async def test_piece_numbers_are_suggested_from_the_persons_own_pieces(stage: Stage) -> None:
    async with stage() as scene:
        await scene.answered(await scene.slash(scene.ada, "image", prompt="a harbour at dawn"))
        await scene.answered(await scene.slash(scene.ada, "poem", prompt="gulls"))

        async def suggested(user: Payload, typed: str) -> list[Payload] | None:
            log = await scene.fake.autocomplete(
                user, "show", "piece", typed, channel_id=scene.channel, guild_id=scene.guild
            )
            await scene.fake.wait_for_interaction(log, lambda log: log.choices is not None)
            assert log.callbacks[0].type == AUTOCOMPLETE_RESULT
            return log.choices

        assert await suggested(scene.ada, "") == [
            {"name": "#2 poem: gulls", "value": 2},
            {"name": "#1 image: a harbour at dawn", "value": 1},
        ]
        assert await suggested(scene.ada, "#1") == [
            {"name": "#1 image: a harbour at dawn", "value": 1}
        ]
        assert await suggested(scene.bob, "") == []


async def test_history_help_and_forget_answer_privately(stage: Stage) -> None:
    async with stage() as scene:
        await scene.answered(await scene.slash(scene.ada, "poem", prompt="gulls"))
        history = await scene.answered(await scene.slash(scene.ada, "history"), followups=0)
        helped = await scene.answered(await scene.slash(scene.bob, "help"), followups=0)
        asked = await scene.answered(await scene.slash(scene.ada, "forget"), followups=0)
        forgot = await scene.answered(
            await scene.slash(scene.ada, "forget", confirm="yes"), followups=0
        )
        left = await scene.artifacts()

    for log in (history, helped, asked, forgot):
        assert log.deferred and log.callbacks[0].ephemeral and log.acknowledged_in < 3.0  # type: ignore[operator]
    assert history.edits[-1].content.startswith("Your recent turns:\nyou: /poem gulls")
    assert "/poem: Write a poem." in helped.edits[-1].content
    assert "To confirm, send /forget again with yes." in asked.edits[-1].content
    assert forgot.edits[-1].content.startswith("Forgotten: 1 conversation")
    assert left == []


async def test_a_person_over_the_rate_limit_is_told_when_to_come_back(stage: Stage) -> None:
    async with stage(discord_rate_per_minute=2) as scene:
        for _ in range(2):
            await scene.answered(await scene.slash(scene.ada, "history"), followups=0)
        refused = await scene.answered(await scene.slash(scene.ada, "history"))
        other = await scene.answered(await scene.slash(scene.bob, "history"), followups=0)
        mention = f"<@{scene.fake.bot_user['id']}>"
        before = len(scene.fake.sent)
        await scene.fake.send_message(
            scene.fake.message(
                scene.ada,
                f"{mention} hello",
                channel_id=scene.channel,
                guild_id=scene.guild,
                mentions=(scene.fake.bot_user,),
            )
        )
        [said] = (await scene.fake.wait_for_sent(before + 1))[before:]

    [answer] = refused.callbacks
    assert answer.type == MESSAGE and answer.ephemeral
    assert answer.content.startswith("Easy there! You've started 2 things in the last minute")
    assert other.deferred  # the limit is per person
    assert said.content.startswith("Easy there!") and said.pings_nobody


async def test_an_interaction_is_acknowledged_at_once_while_a_tool_works_five_seconds(
    stage: Stage,
) -> None:
    async with stage([NAP, IMAGE]) as scene:
        napping = await scene.slash(scene.ada, "nap")
        await scene.fake.wait_for_interaction(napping, lambda log: log.deferred)
        await asyncio.sleep(1.0)  # the nap is under way in its worker thread
        meanwhile = await scene.slash(scene.bob, "help")
        await scene.answered(meanwhile, followups=0)
        helped_at = time.perf_counter()
        await scene.answered(napping)
        napped_at = time.perf_counter()

    assert meanwhile.acknowledged_in < 3.0  # type: ignore[operator]
    assert napping.acknowledged_in < 3.0  # type: ignore[operator]
    assert helped_at < napped_at - 2.0  # answered while the nap went on
    assert napped_at - napping.dispatched_at >= 5.0
    assert napping.followups[0].content == "rested\n#1 music rested"


async def test_a_failing_tool_is_one_line_with_a_reference_and_stores_nothing(
    stage: Stage,
) -> None:
    async with stage([IMAGE, BROKEN]) as scene:
        failed = await scene.answered(await scene.slash(scene.ada, "broken", prompt="x"), 0)
        pieces = await scene.artifacts()

    assert failed.deferred and not failed.followups
    assert re.fullmatch(
        r"Sorry, the broken tool failed \(ref [0-9a-f]{8}\)\. Nothing was stored; .*",
        failed.edits[-1].content,
    )
    assert pieces == []


async def test_no_server_path_is_sent_to_discord(stage: Stage) -> None:
    """The piece's file is attached; its place on the server is never written out."""
    async with stage() as scene:
        made = await scene.answered(await scene.slash(scene.ada, "image", prompt="a harbour"))
        shown = await scene.answered(await scene.slash(scene.ada, "show", piece=1))
        versions = await scene.slash(scene.ada, "versions", piece=1)
        versions = await scene.answered(versions, followups=0)
        root = str(scene.studio.media.root)

    sent = [
        part.content
        for log in (made, shown, versions)
        for part in (*log.callbacks, *log.edits, *log.followups)
        if getattr(part, "content", None)
    ]
    assert made.followups[0].files and any("#1 image" in text for text in sent)
    assert [text for text in sent if root in text or "/media/" in text] == []
