"""One pass per turn: media written off the event loop and outside transactions, no server
path shown to a chat model or a person, and three database sessions for a turn that makes a
piece (one to read who and where, the job ledger's row before the tool runs, and one to store
what was made, which ends the job too)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from pydantic import Field

from agent.making.decisions import Decision
from agent.store.media import MediaStore, StoredMedia
from agent.types import Attachment
from tests.support.loop_watch import watching_the_loop
from tests.support.studio_tools import (
    PGM,
    PGM_HEADER,
    RECALL,
    SKETCH,
    TRACE,
    VERSE,
    ScriptedRouter,
    VerseArgs,
)
from tests.support.workshop import MakeWorkshop
from tools.contract import ArtifactDraft, ArtifactKind, Media, Tool, ToolArgs, ToolContext

MURAL_BYTES = 8 * 1024 * 1024


class MuralArgs(ToolArgs):
    prompt: str = Field(description="what to paint", min_length=1)


def paint_mural(args: MuralArgs, context: ToolContext) -> ArtifactDraft:
    """8 MB of picture, as a large upscale would be: hashing and writing it takes a while."""
    return ArtifactDraft(ArtifactKind.IMAGE, media=Media(os.urandom(MURAL_BYTES), PGM))


MURAL = Tool("mural", "Paint a wall.", ArtifactKind.IMAGE, MuralArgs, paint_mural)


def graymap(seed: int) -> Attachment:
    pixels = hashlib.sha256(str(seed).encode()).digest() * 8
    return Attachment(f"scan-{seed}.pgm", PGM, PGM_HEADER + pixels[:256])


async def test_8_mb_of_media_and_an_upload_never_block_the_event_loop(
    make_studio: MakeWorkshop, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    studio = make_studio([MURAL, TRACE])
    await studio.command("/mural warm up")  # first use imports code; not a turn's cost
    loop_thread = threading.current_thread()
    writers: list[threading.Thread] = []
    put = MediaStore.put

    def watched_put(self: MediaStore, data: bytes, mime_type: str) -> StoredMedia:
        writers.append(threading.current_thread())
        return put(self, data, mime_type)

    monkeypatch.setattr(MediaStore, "put", watched_put)
    async with watching_the_loop(caplog) as watch:
        # Ada's 8 MB piece is written and committed while Bob's upload is written and stored.
        mural, kept = await asyncio.gather(
            studio.command("/mural a harbour wall", user="ada"),
            studio.say("", user="bob", attachments=[graymap(1)]),
        )
    assert mural.artifacts and kept.artifacts and kept.text.startswith("Kept #")
    assert watch.slow == [] and max(watch.gaps) < 0.1 + 0.01
    assert writers and loop_thread not in writers  # every file written in a worker thread
    sizes = sorted(path.stat().st_size for path in studio.media_files())
    assert sizes[-1] == MURAL_BYTES and len(sizes) == 3  # warm-up, Ada's, Bob's


class RecordingToolChat(GenericFakeChatModel):
    """Calls the sketch tool, then answers; keeps every message it was shown."""

    seen: list[BaseMessage] = []

    def bind_tools(self, tools: Any, **kwargs: Any) -> RecordingToolChat:
        return self

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
        self.seen.extend(messages)
        return super()._generate(messages, *args, **kwargs)


def sketch_call() -> AIMessage:
    return AIMessage("", tool_calls=[{"name": "sketch", "args": {"prompt": "a gull"}, "id": "c1"}])


async def test_no_server_path_reaches_the_chat_model_or_a_person(
    make_studio: MakeWorkshop, tmp_path: Path
) -> None:
    script = iter([sketch_call(), AIMessage("Here is a gull."), AIMessage("It is a gull.")])
    model = RecordingToolChat(messages=script)
    studio = make_studio([SKETCH], tool_chat=model)
    made = await studio.say("draw a gull")
    again = await studio.say("what did you draw?")  # the history, as the model reads it
    shown = await studio.command("/show #1")
    versions = await studio.command("/versions #1")

    [piece] = made.artifacts
    assert piece.media_path is not None and piece.media_path.is_relative_to(tmp_path)
    told = [str(message.content) for message in model.seen]
    told += [made.text, again.text, shown.text, versions.text]
    told += [artifact.line for reply in (made, shown) for artifact in reply.artifacts]
    assert any("[made a image]" in text for text in told)  # the model heard what was made
    assert [text for text in told if str(tmp_path) in text or "/media/" in text] == []


async def test_an_image_turn_opens_one_session_to_read_one_for_its_job_and_one_to_store(
    make_studio: MakeWorkshop,
) -> None:
    studio = make_studio([SKETCH])
    await studio.command("/sketch warm up")  # the person and the conversation exist now
    opened: list[int] = []
    sessions = studio.agent._sessions  # noqa: SLF001 - counting what the turn opens

    def counting() -> Any:
        opened.append(1)
        return sessions()

    parts = (studio.agent, studio.agent._scopes, studio.agent._writes, studio.ledger)  # noqa: SLF001
    for part in parts:
        part._sessions = counting  # noqa: SLF001
    reply = await studio.command("/sketch a heron")
    # One more is the job ledger's, a short write off the model's path: the job's row
    # committed before the tool runs (a kill -9 mid-run must leave a trace). Its end is in the
    # store's transaction, so its piece is stored exactly once (agent/ledger/claim.py).
    assert reply.artifacts and len(opened) == 3


def trace_call(piece: int) -> AIMessage:
    call = {"name": "trace", "args": {"prompt": "again", "piece": piece}, "id": "c1"}
    return AIMessage("", tool_calls=[call])


async def test_a_piece_a_tool_calling_model_names_is_the_one_built_on(
    make_studio: MakeWorkshop,
) -> None:
    script = iter([trace_call(1), AIMessage("Traced."), trace_call(1), AIMessage("Sorry.")])
    studio = make_studio([SKETCH, TRACE], tool_chat=RecordingToolChat(messages=script))
    await studio.command("/sketch a gull", user="ada")  # #1
    await studio.command("/sketch a tern", user="ada")  # #2, the latest
    await studio.say("trace the gull", user="ada")
    refused = await studio.say("trace it", user="bob")  # #1 is Ada's: Bob cannot name it
    *_, traced = await studio.artifacts()
    assert (traced.parent_id, traced.root_id, traced.creator_id) == (1, 1, 1)
    assert not refused.artifacts and len(await studio.artifacts()) == 3


async def test_a_tool_is_offered_the_askers_kept_pieces_of_its_kind_newest_first(
    make_studio: MakeWorkshop,
) -> None:
    recall = Decision(RECALL.name, args=VerseArgs(prompt="taste"))
    studio = make_studio([VERSE, SKETCH, RECALL], router=ScriptedRouter({"my taste?": recall}))
    for line in ("/verse form=haiku a", "/verse b", "/verse c", "/sketch d"):
        await studio.command(line)
    for number in (1, 2, 3, 4):
        await studio.command(f"/keep #{number}")
    await studio.command("/verse form=haiku by bob", user="bob")
    await studio.command("/keep #5", user="bob")  # Bob's taste is his own
    by_command = await studio.command("/recall taste")  # one kind: the tool's
    by_words = await studio.say("my taste?")  # free text: every kind, in one query
    assert by_command.text == by_words.text == "couplet couplet haiku"
