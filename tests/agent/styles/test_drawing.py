"""What a run draws on besides its focus, resolved by the agent before the job runs: a style's
pictures (the person's own only), a style by name, the person's own poems as their voice.
The real agent on SQLite (and PostgreSQL when configured); the tools show what they got."""

from __future__ import annotations

from langchain_core.messages import AIMessage
from sqlalchemy import func, select

from agent.ledger.models import Job
from agent.making.decisions import Decision
from agent.store.db import Artifact
from agent.types import Attachment
from tests.agent.making.test_studio import ToolCallingChat
from tests.agent.styles.drawing_tools import ODE, PAINT, STYLE_TOOL, OdeArgs, PaintArgs
from tests.support.studio_tools import PGM, PGM_HEADER, SKETCH, TRACE, ScriptedRouter
from tests.support.workshop import PLACE, MakeWorkshop, Workshop

TOOLS = [STYLE_TOOL, PAINT, ODE, SKETCH, TRACE]


async def sketches(studio: Workshop, count: int, user: str = "ada") -> list[int]:
    numbers = []
    for seed in range(count):
        reply = await studio.command(f"/sketch seed={seed} a fox {user}", user=user)
        numbers.append(reply.artifacts[0].number)
    return numbers


def pieces(numbers: list[int]) -> str:
    return ",".join(f"#{number}" for number in numbers)


async def jobs(studio: Workshop) -> int:
    async with studio.sessions() as session:
        return (await session.execute(select(func.count()).select_from(Job))).scalar_one()


async def styles(studio: Workshop) -> list[Artifact]:
    return [piece for piece in await studio.artifacts() if piece.kind == "style"]


async def test_a_style_learns_from_the_persons_own_pictures(make_studio: MakeWorkshop) -> None:
    studio = make_studio(TOOLS)
    numbers = await sketches(studio, 4)
    reply = await studio.command(f"/style train name=ink from_pieces={pieces(numbers)}")
    [style] = await styles(studio)
    assert reply.artifacts[0].number == style.id, reply.text
    # The tool was handed exactly those pictures, in order, with their files.
    assert style.params == {"name": "ink", "sources": numbers}
    [lora] = style.files
    assert lora.name == "lora" and studio.media.path(lora.path).is_file()


async def test_another_persons_picture_is_refused_in_one_line_nothing_stored(
    make_studio: MakeWorkshop,
) -> None:
    """In a group session bob's sketch is on ada's canvas, but a style is hers alone."""
    studio = make_studio(TOOLS)
    await studio.command("/session start mode=free a harbour")
    await studio.command("/session join", user="bob")
    mine = await sketches(studio, 3)
    [theirs] = await sketches(studio, 1, user="bob")
    before, jobs_before = len(await studio.artifacts()), await jobs(studio)
    reply = await studio.command(f"/style train name=ink from_pieces={pieces([*mine, theirs])}")
    assert reply.text == (
        f"#{theirs} is not yours: a style learns only from your own pictures. Nothing was stored."
    )
    assert not reply.stored
    assert len(await studio.artifacts()) == before and await jobs(studio) == jobs_before


async def test_a_piece_the_person_cannot_see_reads_as_missing(make_studio: MakeWorkshop) -> None:
    studio = make_studio(TOOLS)
    mine = await sketches(studio, 3)
    [bobs] = await sketches(studio, 1, user="bob")  # in bob's own conversation
    reply = await studio.command(f"/style train name=ink from_pieces={pieces([*mine, bobs])}")
    assert reply.text == f"I can't find #{bobs} among the pieces in your conversations."
    assert await styles(studio) == []


async def test_fewer_than_four_pictures_is_the_tools_line_and_nothing_is_stored(
    make_studio: MakeWorkshop,
) -> None:
    studio = make_studio(TOOLS)
    numbers = await sketches(studio, 3)
    files_before = set(studio.media_files())
    reply = await studio.command(f"/style train name=ink from_pieces={pieces(numbers)}")
    assert reply.text == "A style needs at least 4 of your pictures; it got 3. Nothing was stored."
    assert await styles(studio) == [] and set(studio.media_files()) == files_before


async def test_a_name_already_used_is_refused_before_any_job(make_studio: MakeWorkshop) -> None:
    studio = make_studio(TOOLS)
    numbers = await sketches(studio, 4)
    await studio.command(f"/style train name=ink from_pieces={pieces(numbers)}")
    jobs_before = await jobs(studio)
    reply = await studio.command(f"/style train name=INK from_pieces={pieces(numbers)}")
    assert reply.text.startswith("You already have a style named 'INK'")
    assert len(await styles(studio)) == 1 and await jobs(studio) == jobs_before
    # Another person may use the same name for a style of their own.
    bobs = await sketches(studio, 4, user="bob")
    bob = await studio.command(f"/style train name=ink from_pieces={pieces(bobs)}", user="bob")
    assert len(bob.artifacts) == 1, bob.text


def graymap(shade: int) -> Attachment:
    return Attachment(f"scan-{shade}.pgm", PGM, PGM_HEADER + bytes([shade]) * 256)


async def test_pictures_sent_with_the_turn_are_the_persons_own(make_studio: MakeWorkshop) -> None:
    studio = make_studio(TOOLS)
    sent = [graymap(shade) for shade in (10, 20, 30, 40)]
    reply = await studio.command("/style train name=scans", attachments=sent)
    [style] = await styles(studio)
    uploads = [piece.id for piece in await studio.artifacts() if piece.params.get("upload")]
    assert len(uploads) == 4 and style.params["sources"] == uploads, reply.text


async def test_with_no_pictures_named_a_style_learns_from_the_kept_ones(
    make_studio: MakeWorkshop,
) -> None:
    studio = make_studio(TOOLS)
    numbers = await sketches(studio, 6)
    for number in numbers[1:5]:
        await studio.command(f"/keep #{number}")
    await studio.command("/style train name=kept")
    [style] = await styles(studio)
    assert sorted(style.params["sources"]) == numbers[1:5]


async def test_a_style_by_name_reaches_the_picture_and_changes_it(
    make_studio: MakeWorkshop,
) -> None:
    studio = make_studio(TOOLS)
    await studio.command(f"/style train name=ink from_pieces={pieces(await sketches(studio, 4))}")
    [style] = await styles(studio)
    plain = await studio.command("/paint a heron")
    styled = await studio.command("/paint style_name=Ink a heron")
    *_, plain_piece, styled_piece = await studio.artifacts()
    assert (plain_piece.params, styled_piece.params) == ({"style": None}, {"style": style.id})
    assert plain.artifacts[0].media_path.read_bytes() != styled.artifacts[0].media_path.read_bytes()


async def test_an_unknown_style_is_refused_listing_the_persons_own(
    make_studio: MakeWorkshop,
) -> None:
    studio = make_studio(TOOLS)
    await studio.command(f"/style train name=ink from_pieces={pieces(await sketches(studio, 4))}")
    bobs = await sketches(studio, 4, user="bob")
    await studio.command(f"/style train name=oil from_pieces={pieces(bobs)}", user="bob")
    ink = next(style for style in await styles(studio) if style.params["name"] == "ink")
    before = len(await studio.artifacts())
    reply = await studio.command("/paint style_name=oil a heron")  # bob's, not ada's
    assert reply.text == f"You have no style named 'oil'. Your styles: ink (#{ink.id})."
    assert len(await studio.artifacts()) == before
    none_yet = await studio.command("/paint style_name=ink a heron", user="cy")
    assert none_yet.text.endswith("You have no trained styles yet: train one with /style train.")


async def test_free_text_decided_after_the_scope_draws_on_the_style_too(
    make_studio: MakeWorkshop,
) -> None:
    said = "a heron in my ink style"
    router = ScriptedRouter(
        {said: Decision("paint", PaintArgs(prompt="a heron", style_name="ink"))}
    )
    studio = make_studio(TOOLS, router=router)
    await studio.command(f"/style train name=ink from_pieces={pieces(await sketches(studio, 4))}")
    [style] = await styles(studio)
    reply = await studio.say(said)
    assert (await studio.artifacts())[-1].params == {"style": style.id}, reply.text
    unknown = "a heron in my oil style"
    router.decisions[unknown] = Decision("paint", PaintArgs(prompt="a heron", style_name="oil"))
    assert (await studio.say(unknown)).text.startswith("You have no style named 'oil'.")


async def test_my_voice_is_my_poems_and_no_other_members(make_studio: MakeWorkshop) -> None:
    """In a session with two members, ada's voice holds her poems, kept first, never bob's."""
    studio = make_studio(TOOLS)
    await studio.command("/session start mode=free a harbour", place=PLACE)
    await studio.command("/session join", user="bob")
    for topic in ("gulls", "nets", "tide"):
        await studio.command(f"/ode {topic}")
        await studio.command(f"/ode bob's {topic}", user="bob")
    gulls = next(piece for piece in await studio.artifacts() if piece.text == "ode on gulls\n")
    await studio.command(f"/keep #{gulls.id}")
    reply = await studio.command("/ode voice=true the harbour at dusk")
    _, voice = (reply.text or "").split("\n", 1)
    assert voice.split(" | ") == ["ode on gulls", "ode on tide", "ode on nets"]
    assert "bob" not in voice
    plain = await studio.command("/ode the harbour at noon")
    assert plain.text == "ode on the harbour at noon\n"


async def test_voice_from_free_text_reads_the_persons_poems(make_studio: MakeWorkshop) -> None:
    said = "an ode to rain in my voice"
    router = ScriptedRouter({said: Decision("ode", OdeArgs(prompt="rain", voice=True))})
    studio = make_studio(TOOLS, router=router)
    await studio.command("/ode snow")
    await studio.command("/ode hail", user="bob")
    reply = await studio.say(said)
    assert reply.text == "ode on rain\node on snow"


async def test_a_tool_calling_model_asking_for_a_voice_gets_the_persons_poems(
    make_studio: MakeWorkshop,
) -> None:
    """Args a chat model calls a tool with are drawn on too (the studio asks the scope)."""
    call = {"name": "ode", "args": {"prompt": "rain", "voice": True}, "id": "call_0"}
    model = ToolCallingChat(messages=iter([AIMessage("", tool_calls=[call]), AIMessage("Done.")]))
    studio = make_studio(TOOLS, tool_chat=model)
    await studio.command("/ode snow")
    await studio.command("/ode hail", user="bob")
    await studio.say("an ode to rain, in my voice")
    assert (await studio.artifacts())[-1].text == "ode on rain\node on snow"
