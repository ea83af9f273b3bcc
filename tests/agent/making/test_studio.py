"""Making pieces with tools: commands, routed free text, lineage, limits and failures."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Sequence
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.utils.function_calling import convert_to_openai_tool
from sqlalchemy import delete

from agent.jobs import JobLimits
from agent.ledger.models import Job, JobState
from agent.making.decisions import REVISE, Decision
from agent.making.studio import Made, Request
from agent.scope import Scope
from agent.store.db import Conversation
from agent.store.memory import ContextWindow
from agent.store.people import find_user
from agent.types import Command, Turn, UserRef
from bot.console import parse_command, render
from tests.support.loop_watch import watching_the_loop
from tests.support.studio_tools import (
    BROKEN,
    CHURN,
    SHEET,
    SKETCH,
    VERSE,
    OutOfMemoryOnce,
    ScriptedRouter,
    SketchArgs,
    Stall,
    VerseArgs,
    stall_tool,
)
from tests.support.workshop import PLACE, MakeWorkshop


class ToolCallingChat(GenericFakeChatModel):
    """Replies with scripted messages (tool calls, then words) and keeps the tools it was shown."""

    shown_tools: list[dict[str, Any]] = []

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ToolCallingChat:
        self.shown_tools = [convert_to_openai_tool(tool) for tool in tools]
        return self


def calls(*arguments: dict[str, Any]) -> AIMessage:
    return AIMessage(
        "",
        tool_calls=[
            {"name": "verse", "args": args, "id": f"call_{i}"} for i, args in enumerate(arguments)
        ],
    )


async def test_a_command_makes_a_numbered_piece_and_keeps_it(make_studio: MakeWorkshop) -> None:
    studio = make_studio([VERSE, SKETCH])
    reply = await studio.command("/verse form=haiku a heron in the rain")
    [artifact] = await studio.artifacts()
    assert reply.text == "haiku on a heron in the rain\nthe end rhymes with friend"
    assert [a.line for a in reply.artifacts] == [
        f"#{artifact.id} poem haiku on a heron in the rain"
    ]
    assert (artifact.kind, artifact.params, artifact.prompt) == (
        "poem",
        {"form": "haiku"},
        "a heron in the rain",
    )
    said, shown = await studio.messages()
    assert said.content == "/verse form=haiku a heron in the rain"
    assert (shown.artifact_id, shown.tool_name) == (artifact.id, "verse")
    assert shown.tool_args == {"prompt": "a heron in the rain", "form": "haiku", "extend": False}


async def test_an_image_is_stored_by_content_and_the_console_shows_its_path(
    make_studio: MakeWorkshop,
) -> None:
    studio = make_studio([SKETCH])
    first = await studio.command("/sketch seed=7 a lighthouse")
    again = await studio.command("/sketch seed=7 a lighthouse")
    [path] = studio.media_files()
    assert first.artifacts[0].media_path == path == again.artifacts[0].media_path
    # The terminal is on the operator's own machine: the console writes the path itself; the
    # line the agent gives (which chat models and Discord see) never holds it.
    assert str(path) in render(first) and str(path) not in first.artifacts[0].line
    one, two = await studio.artifacts()
    assert studio.media.read(one.media_path, one.media_sha256).startswith(b"P5")
    assert one.media_sha256 == two.media_sha256 and one.id != two.id


async def test_each_piece_of_a_sheet_is_kept_as_its_own_numbered_artifact(
    make_studio: MakeWorkshop,
) -> None:
    studio = make_studio([SHEET])
    reply = await studio.command("/sheet seed=3 two foxes")
    sheet, first, second = await studio.artifacts()
    assert [made.number for made in reply.artifacts] == [sheet.id, first.id, second.id]
    assert [a.params for a in (first, second)] == [{"seed": 3}, {"seed": 4}]
    assert all(a.root_id is None and a.prompt == "two foxes" for a in (sheet, first, second))
    assert all(made.media_path is not None and made.media_path.exists() for made in reply.artifacts)
    history = await studio.messages()
    assert [m.artifact_id for m in history] == [None, sheet.id]


async def test_free_text_routed_to_a_tool_makes_a_new_version_of_the_piece(
    make_studio: MakeWorkshop,
) -> None:
    revise = Decision("verse", VerseArgs(prompt="rain on the pond", extend=True))
    studio = make_studio([VERSE], router=ScriptedRouter({"add a line about rain": revise}))
    await studio.command("/verse a heron")
    reply = await studio.say("add a line about rain")
    first, second = await studio.artifacts()
    assert (second.parent_id, second.root_id, second.version) == (first.id, first.id, 2)
    assert reply.text.endswith("and now: rain on the pond")
    assert reply.text.startswith(first.text)
    versions = await studio.command(f"/versions #{second.id}")
    assert versions.text.splitlines()[1:] == [
        f"#{first.id} poem couplet on a heron",
        f"  #{second.id} poem couplet on a heron",
    ]


async def test_a_piece_named_by_number_is_the_one_built_on(make_studio: MakeWorkshop) -> None:
    variation = Decision("verse", VerseArgs(prompt="a variation", extend=True))
    studio = make_studio([VERSE], router=ScriptedRouter({"a variation of #1": variation}))
    await studio.command("/verse first piece")
    await studio.command("/verse second piece")
    await studio.say("a variation of #1")
    first, second, third = await studio.artifacts()
    assert first.id == 1  # the router above names #1
    assert second.root_id is None  # a new piece, though #1 was the latest
    assert (third.parent_id, third.root_id) == (first.id, first.id)


async def test_the_piece_a_command_names_beats_a_number_in_its_options(
    make_studio: MakeWorkshop,
) -> None:
    """Discord's `piece` option arrives as the command's text, the prompt as an option."""
    studio = make_studio([VERSE])
    await studio.command("/verse first piece")
    await studio.command("/verse second piece")
    await studio.command("/verse extend=true prompt=after-#1 #2")
    first, second, third = await studio.artifacts()
    assert (third.parent_id, third.root_id) == (second.id, second.id)


REVISING_VERSE = dataclasses.replace(
    VERSE, revision=lambda words: VerseArgs(prompt=words, extend=True)
)


async def test_a_change_that_names_no_kind_revises_the_piece_in_focus_with_its_own_tool(
    make_studio: MakeWorkshop,
) -> None:
    changes = ("shorter", "make it darker", "make #1 darker")
    router = ScriptedRouter({words: Decision(REVISE) for words in changes})
    studio = make_studio([REVISING_VERSE, SKETCH], router=router)
    chatted = await studio.say("shorter")  # nothing made yet: the words are chat
    assert chatted.stored and not chatted.artifacts
    await studio.command("/verse a heron")
    reply = await studio.say("make it darker")
    first, darker = await studio.artifacts()
    assert (darker.kind, darker.parent_id, darker.version) == ("poem", first.id, 2)
    assert reply.text.endswith("and now: make it darker")
    await studio.command("/sketch a boat")  # sketches cannot be revised
    refused = await studio.say("make it darker")
    assert refused.text == "No tool here can revise an image yet." and not refused.stored
    assert len(await studio.artifacts()) == 3
    named = await studio.say("make #1 darker")  # a piece named by number is the one changed
    assert named.artifacts[0].number == 4 and (await studio.artifacts())[-1].parent_id == first.id


async def test_plain_chat_still_answers_when_nothing_is_asked_for(
    make_studio: MakeWorkshop,
) -> None:
    studio = make_studio([VERSE], router=ScriptedRouter({}))
    reply = await studio.say("hello there")
    assert reply.stored and not reply.artifacts
    assert await studio.artifacts() == []


async def test_a_routers_question_is_asked_and_remembered(make_studio: MakeWorkshop) -> None:
    question = Decision("verse", question="Which form would you like: couplet or haiku?")
    studio = make_studio([VERSE], router=ScriptedRouter({"a poem please": question}))
    reply = await studio.say("a poem please")
    assert reply.text == "Which form would you like: couplet or haiku?"
    assert [m.content for m in await studio.messages()] == ["a poem please", reply.text]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("/verse colour=red a heron", "/verse does not take colour."),
        ("/verse form=limerick a heron", "/verse: form='limerick': input should be"),
        ("/verse", "What should the verse be about?"),
        ("/sketch seed=-1 a boat", "/sketch: seed='-1': input should be greater than or equal"),
    ],
)
async def test_bad_command_input_is_explained_and_nothing_is_stored(
    make_studio: MakeWorkshop,
    line: str,
    expected: str,
) -> None:
    studio = make_studio([VERSE, SKETCH])
    reply = await studio.command(line)
    assert reply.text.startswith(expected)
    assert "key=value" in reply.text  # what is accepted follows
    assert not reply.stored
    assert await studio.messages() == [] and await studio.artifacts() == []


async def test_a_failing_tool_leaves_no_artifact_message_or_file(make_studio: MakeWorkshop) -> None:
    studio = make_studio([BROKEN, VERSE])
    reply = await studio.command("/broken a heron")
    assert "the broken tool failed (ref " in reply.text and not reply.stored
    assert await studio.artifacts() == [] and await studio.messages() == []
    assert (await studio.command("/verse still works")).artifacts  # the conversation goes on


async def test_out_of_gpu_memory_is_retried_once_then_reported(make_studio: MakeWorkshop) -> None:
    once, always = OutOfMemoryOnce(failures=1), OutOfMemoryOnce(failures=2)
    studio = make_studio([once.tool()])
    assert (await studio.command("/big a whale")).artifacts and once.runs == 2
    studio = make_studio([always.tool()])
    reply = await studio.command("/big a whale")
    assert "(ref " in reply.text and not reply.artifacts and always.runs == 2
    assert len(await studio.artifacts()) == 1  # only the first studio's piece


async def test_a_piece_that_cannot_be_stored_leaves_no_file(make_studio: MakeWorkshop) -> None:
    studio = make_studio([SKETCH])
    # The conversation was forgotten while the tool ran: nothing may remain of the run.
    await studio.say("hello")  # user 1 and their conversation 1 exist
    gone = Scope(user_id=1, conversation_id=1, window=ContextWindow(None, (), 0))
    request = Request(tool=SKETCH, args=SketchArgs(prompt="a boat"), scope=gone, focus=None)
    made = await studio.studio.run(request)
    assert isinstance(made, Made) and studio.media_files() != []  # written before the store
    async with studio.sessions() as session, session.begin():
        await session.execute(delete(Conversation).where(Conversation.id == 1))
    reply = await studio.agent._writes.pieces(gone, "/sketch a boat", [made])  # noqa: SLF001
    assert not reply.stored and not reply.artifacts
    assert studio.media_files() == []
    assert await studio.artifacts() == []
    async with studio.sessions() as session:  # and its job ended: it failed
        job = await session.get(Job, made.job)
    assert job is not None and job.state == JobState.FAILED


async def test_a_tool_past_its_timeout_is_stopped_and_nothing_is_kept(
    make_studio: MakeWorkshop,
) -> None:
    stall = Stall()
    studio = make_studio([stall_tool(stall, timeout_s=0.2)])
    reply = await studio.command("/stall")
    assert reply.text.startswith("The stall tool took longer than 0.2 s and was stopped.")
    await asyncio.sleep(0.1)
    assert stall.cancelled_runs == 1  # the worker was told to stop, and did
    assert await studio.artifacts() == [] and await studio.messages() == []


async def test_each_person_has_a_limit_on_pieces_in_the_works(make_studio: MakeWorkshop) -> None:
    stall = Stall()
    studio = make_studio([stall_tool(stall), VERSE], limits=JobLimits(running=1, queued=1))
    running = asyncio.create_task(studio.command("/stall one"))
    queued = asyncio.create_task(studio.command("/stall two"))
    async with asyncio.timeout(10):
        while studio.jobs.in_the_works(user_id=1) < 2:
            await asyncio.sleep(0.01)
    refused = await studio.command("/stall three")
    assert refused.text.startswith("You already have 2 pieces in the works")
    assert (await studio.command("/verse meanwhile", user="bob")).artifacts  # others go on
    stall.release.set()
    assert (await running).artifacts and (await queued).artifacts


async def test_a_waiting_piece_says_where_it_stands_in_line(make_studio: MakeWorkshop) -> None:
    stall = Stall()
    studio = make_studio([stall_tool(stall)], limits=JobLimits(running=1, queued=2, workers=1))
    heard: dict[str, list[str]] = {"ada": [], "bob": []}

    def ask(user: str, text: str) -> asyncio.Task[Any]:
        def show(fraction: float, label: str) -> None:
            heard[user].append(label)

        turn = Turn("test", UserRef(user, user), PLACE, command=parse_command(text), progress=show)
        return asyncio.create_task(studio.agent.respond(turn))

    first = ask("ada", "/stall one")
    async with asyncio.timeout(10):
        await asyncio.to_thread(stall.started.acquire)  # it holds the only thread
    waiting = [ask("bob", "/stall two"), ask("ada", "/stall three")]
    async with asyncio.timeout(10):
        while len(heard["bob"]) + len(heard["ada"]) < 2:
            await asyncio.sleep(0.01)
    assert heard == {
        "bob": ["queued: 1 in line"],
        "ada": ["waiting for your other piece to finish"],
    }
    stall.release.set()
    replies = [await task for task in (first, *waiting)]
    assert all(reply.artifacts for reply in replies)


async def test_nobody_sees_or_builds_on_another_persons_piece(make_studio: MakeWorkshop) -> None:
    revise = Decision("verse", VerseArgs(prompt="mine now", extend=True))
    studio = make_studio([VERSE], router=ScriptedRouter({"change #1": revise}))
    await studio.command("/verse ada's secret", user="ada")
    not_found = "I can't find #1 among the pieces in your conversations."
    assert (await studio.command("/show #1", user="bob")).text == not_found
    assert (await studio.command("/versions #1", user="bob")).text == not_found
    assert (await studio.say("change #1", user="bob")).text == not_found
    assert (await studio.command("/verse #1 more", user="bob")).text == not_found
    assert len(await studio.artifacts()) == 1
    shown = await studio.command("/show #1", user="ada")
    assert "ada's secret" in shown.text and "made with: form=couplet" in shown.text


async def test_a_command_that_is_not_a_tool_lists_what_exists(make_studio: MakeWorkshop) -> None:
    studio = make_studio([VERSE])
    reply = await studio.command("/paint a cat")
    assert reply.text.startswith("Unknown command /paint. To make something: /verse: Write")
    assert not reply.stored
    usage = await studio.command("/verse help")
    assert "form: the verse form; one of couplet, haiku; default couplet" in usage.text


async def test_a_model_calling_a_tool_makes_the_piece_for_the_person_who_asked(
    make_studio: MakeWorkshop,
) -> None:
    # The model tries to act for someone else; who asked comes from the turn, not the model.
    forged = {"prompt": "a heron", "user_id": 1, "conversation_id": 1, "creator_id": 1}
    model = ToolCallingChat(messages=iter([calls(forged), AIMessage("Here is your verse.")]))
    studio = make_studio([VERSE], tool_chat=model)
    await studio.command("/verse bob's own piece", user="bob")  # bob is user 1
    reply = await studio.say("write me a verse about a heron", user="ada")
    _, made = await studio.artifacts()
    async with studio.sessions() as session:
        ada = await find_user(session, "test", "ada")
    assert ada is not None and made.creator_id == ada.id != 1
    assert made.conversation_id != 1 and made.prompt == "a heron"
    assert reply.text == "Here is your verse." and [a.number for a in reply.artifacts] == [made.id]
    [shown] = model.shown_tools
    # The tool's own Args, and the piece to build on (every tool's), never who asks or where.
    properties = set(shown["function"]["parameters"]["properties"])
    assert properties == {"prompt", "form", "extend", "piece"}
    contents = [m.content for m in await studio.messages()][2:]
    assert contents[0] == "write me a verse about a heron"
    assert contents[-1] == "Here is your verse." and len(contents) == 3


async def test_tool_calls_per_turn_are_capped(make_studio: MakeWorkshop) -> None:
    eager = [calls({"prompt": f"verse {i}"}) for i in range(6)] + [AIMessage("done")]
    model = ToolCallingChat(messages=iter(eager))
    studio = make_studio([VERSE], tool_chat=model, max_tool_calls=2)
    reply = await studio.say("verses, as many as you can")
    assert len(await studio.artifacts()) == 2 == len(reply.artifacts)
    said = [m for m in await studio.messages() if m.content == "verses, as many as you can"]
    assert len(said) == 1  # the person's message is kept once, however many calls


async def test_forgetting_removes_the_files_only_that_person_made(
    make_studio: MakeWorkshop,
) -> None:
    studio = make_studio([SKETCH])
    await studio.command("/sketch seed=1 ada's boat", user="ada")
    await studio.command("/sketch seed=2 a shared sunset", user="ada")
    await studio.command("/sketch seed=2 a shared sunset", user="bob")  # the same bytes
    assert len(studio.media_files()) == 2
    assert (await studio.command("/forget yes", user="ada")).text.startswith("Forgotten: 1")
    [kept] = studio.media_files()
    [bobs] = await studio.artifacts()
    assert studio.media.read(bobs.media_path, bobs.media_sha256) == kept.read_bytes()


async def test_progress_reaches_the_transport_on_the_event_loop(make_studio: MakeWorkshop) -> None:
    studio = make_studio([VERSE])
    reports: list[tuple[float, str, int]] = []
    loop_thread = threading.get_ident()

    def show(fraction: float, label: str) -> None:
        reports.append((fraction, label, threading.get_ident()))

    command = parse_command("/verse a heron")
    turn = Turn("test", UserRef("ada", "Ada"), PLACE, command=command, progress=show)
    await studio.agent.respond(turn)
    await asyncio.sleep(0)  # reports are delivered by the loop, after the tool's thread ends
    assert reports == [(1.0, "written", loop_thread)]


async def test_a_working_tool_never_blocks_the_event_loop(
    make_studio: MakeWorkshop, caplog: pytest.LogCaptureFixture
) -> None:
    studio = make_studio([CHURN])
    await studio.command("/churn warm up")  # first use imports code; not a turn's cost
    async with watching_the_loop(caplog) as watch:
        reply = await studio.command("/churn a heron")
    assert reply.artifacts and watch.slow == []


def test_commands_are_parsed_as_typed() -> None:
    assert parse_command("/image seed=7 aspect=16:9 a lighthouse in a storm") == Command(
        "image", {"seed": "7", "aspect": "16:9"}, "a lighthouse in a storm"
    )
