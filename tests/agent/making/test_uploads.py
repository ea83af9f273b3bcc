"""Uploaded files become pieces to build on; a piece of another kind made from one keeps a link."""

from __future__ import annotations

import dataclasses

from agent.types import Attachment
from tests.support.studio_tools import HUM, PGM, PGM_HEADER, TRACE, VERSE, ScriptedRouter
from tests.support.workshop import MakeWorkshop
from tools.contract import ArtifactDraft, ToolContext

GREY = PGM_HEADER + bytes(range(256))


async def test_an_uploaded_image_is_kept_and_built_on(make_studio: MakeWorkshop) -> None:
    studio = make_studio([TRACE])
    reply = await studio.command("/trace invert it", attachments=[Attachment("me.pgm", PGM, GREY)])
    upload, traced = await studio.artifacts()
    assert (upload.kind, upload.prompt, upload.params) == ("image", "me.pgm", {"upload": "me.pgm"})
    assert studio.media.read(upload.media_path, upload.media_sha256) == GREY
    assert (traced.parent_id, traced.root_id, traced.version) == (upload.id, upload.id, 2)
    inverted = studio.media.read(traced.media_path, traced.media_sha256)
    assert inverted[len(PGM_HEADER)] == 255 - GREY[len(PGM_HEADER)]
    assert reply.artifacts[0].number == traced.id


def _styled_after(args: object, context: ToolContext) -> ArtifactDraft:
    """The inverted focus, as a new picture that only took the focus as its source."""
    return dataclasses.replace(TRACE.run(args, context), focus_is_source=True)


async def test_a_picture_made_from_a_reference_is_a_new_piece_naming_its_source(
    make_studio: MakeWorkshop,
) -> None:
    """In the style of this picture: the upload is its source (made from #1), not version 2."""
    studio = make_studio([dataclasses.replace(TRACE, run=_styled_after)])
    await studio.command("/trace in this style", attachments=[Attachment("ref.pgm", PGM, GREY)])
    upload, styled = await studio.artifacts()
    assert (styled.parent_id, styled.root_id, styled.version) == (upload.id, None, 1)


async def test_an_untyped_upload_is_known_by_its_file_name(make_studio: MakeWorkshop) -> None:
    studio = make_studio([TRACE])
    untyped = Attachment("me.pgm", "application/octet-stream", GREY)
    await studio.command("/trace invert it", attachments=[untyped])
    assert len(await studio.artifacts()) == 2


async def test_a_refused_upload_is_explained_and_nothing_is_kept(
    make_studio: MakeWorkshop,
) -> None:
    studio = make_studio([TRACE])
    broken = Attachment("broken.pgm", PGM, b"P5 not really")
    reply = await studio.command("/trace invert it", attachments=[broken])
    assert reply.text == "broken.pgm: that is not a 16x16 graymap"
    assert await studio.artifacts() == [] and studio.media_files() == []
    assert await studio.messages() == []


async def test_a_file_no_tool_takes_lists_what_is_taken(make_studio: MakeWorkshop) -> None:
    studio = make_studio([TRACE])
    sheet = Attachment("notes.xlsx", "application/vnd.ms-excel", b"PK")
    reply = await studio.command("/trace invert it", attachments=[sheet])
    assert reply.text == (
        "I can't use notes.xlsx (application/vnd.ms-excel); I take images (x-portable-graymap)."
    )
    assert await studio.artifacts() == []


async def test_files_sent_alone_are_kept_for_the_next_request(make_studio: MakeWorkshop) -> None:
    studio = make_studio([TRACE], router=ScriptedRouter({}))
    reply = await studio.say("", attachments=[Attachment("me.pgm", PGM, GREY)])
    [upload] = await studio.artifacts()
    assert reply.text.startswith(f"Kept #{upload.id}. Ask for a variation, a critique")
    assert [made.number for made in reply.artifacts] == [upload.id]
    said, answered = await studio.messages()
    assert (said.content, answered.artifact_id) == ("[sent me.pgm]", upload.id)
    await studio.command("/trace invert it")
    assert (await studio.artifacts())[-1].parent_id == upload.id


async def test_files_with_words_that_ask_for_no_tool_are_kept_not_chatted_about(
    make_studio: MakeWorkshop,
) -> None:
    studio = make_studio([TRACE], router=ScriptedRouter({}))
    reply = await studio.say("here is my drawing", attachments=[Attachment("me.pgm", PGM, GREY)])
    assert reply.text.startswith("Kept #1.")
    assert [m.content for m in await studio.messages()][0] == "here is my drawing"


async def test_a_piece_of_another_kind_starts_its_own_tree_from_its_source(
    make_studio: MakeWorkshop,
) -> None:
    studio = make_studio([VERSE, HUM])
    await studio.command("/verse a heron")
    await studio.command("/hum")
    poem, tune = await studio.artifacts()
    assert (tune.kind, tune.parent_id, tune.root_id, tune.version) == ("music", poem.id, None, 1)
    shown = await studio.command(f"/show #{tune.id}")
    assert shown.text.splitlines()[0] == f"#{tune.id} music (version 1, made from #{poem.id})"
    versions = await studio.command(f"/versions #{tune.id}")
    assert versions.text.splitlines()[1] == f"#{tune.id} music a tune of 2 phrases"
