"""/export me: a person's own messages (in a session, only theirs) and their own pieces with
their files, as a zip whose export.json validates against its shipped schema; another
member's words and pieces are absent; nothing is one clear line; over the limit nothing is
written; /forget takes the last export with it."""

from __future__ import annotations

import json
import threading
import zipfile
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from agent.personal_export import DOCUMENT, SCHEMA, PersonalExports, build
from agent.personal_export.build import schema
from agent.personal_export.command import NOTHING
from agent.store.db import Artifact
from agent.types import Command, Place, Reply, Turn, UserRef
from bot.console import render
from tests.support.studio_tools import SKETCH, TRACE, VERSE
from tests.support.workshop import MakeWorkshop, Workshop

DM = Place(channel_id="dm-ada", is_direct=True)
BOB_DM = Place(channel_id="dm-bob", is_direct=True)


@pytest.fixture
def studio(make_studio: MakeWorkshop) -> Workshop:
    return make_studio([VERSE, SKETCH, TRACE])


async def history(studio: Workshop) -> dict[str, Artifact]:
    """Ada in her DM and in a session with Bob, who has a DM of his own: their pieces by
    what they are."""
    await studio.command("/sketch seed=1 ada's boat", user="ada", place=DM)
    await studio.say("ada says hello in private", user="ada", place=DM)
    await studio.command("/verse bob's private verse", user="bob", place=BOB_DM)
    await studio.command("/session start a night market", user="ada")
    await studio.command("/session join", user="bob")
    await studio.say("bob's words in the session", user="bob")
    await studio.command("/sketch seed=2 bob's kite", user="bob")
    kite = (await studio.artifacts())[-1]
    await studio.command(f"/trace #{kite.id}", user="ada")  # Ada's version of Bob's kite
    await studio.say("ada's words in the session", user="ada")
    boat, verse, kite, traced = await studio.artifacts()
    return {"boat": boat, "verse": verse, "kite": kite, "traced": traced}


def opened(reply: Reply) -> tuple[dict[str, Any], zipfile.ZipFile]:
    assert reply.download is not None
    archive = zipfile.ZipFile(reply.download.path)
    assert archive.testzip() is None
    return json.loads(archive.read(DOCUMENT)), archive


async def test_a_person_gets_their_own_messages_and_pieces_and_nobody_elses(
    studio: Workshop,
) -> None:
    pieces = await history(studio)
    reply = await studio.command("/export me", user="ada", place=DM)
    document, archive = opened(reply)

    assert list(Draft202012Validator(schema=json.loads(schema())).iter_errors(document)) == []
    assert json.loads(archive.read(SCHEMA)) == json.loads(schema())  # shipped beside it
    assert reply.private and not reply.stored
    assert reply.text.startswith("Your export: 2 conversations, ")
    assert reply.download is not None and reply.download.filename == "atelier-export.zip"
    # The console says where it saved the zip, as for a session's export.
    assert render(reply).splitlines()[-1] == f"atelier-export.zip (saved as {reply.download.path})"

    direct, shared = document["conversations"]
    assert (direct["kind"], shared["kind"], shared["theme"]) == (
        "direct",
        "session",
        "a night market",
    )
    said = [(m["role"], m["text"]) for m in direct["messages"]]
    assert ("user", "/sketch seed=1 ada's boat") in said
    assert ("user", "ada says hello in private") in said
    assert any(role == "assistant" for role, _ in said)  # atelier's answers to her, in her DM
    # In the session: her own words only, never Bob's nor atelier's answers to everyone.
    assert [(m["role"], m["text"]) for m in shared["messages"]] == [
        ("user", f"/trace #{pieces['kite'].id}"),
        ("user", "ada's words in the session"),
    ]
    everything = json.dumps(document)
    assert "bob's" not in everything and "Bob" not in everything

    boat, traced = pieces["boat"], pieces["traced"]
    listed = {piece["number"]: piece for piece in document["pieces"]}
    assert set(listed) == {boat.id, traced.id}
    assert listed[boat.id]["conversation"] == direct["number"]
    assert listed[traced.id]["conversation"] == shared["number"]
    assert listed[traced.id]["parent"] == pieces["kite"].id  # named by number, not shown
    assert {name for name in archive.namelist() if name.startswith("media/")} == {
        f"media/{boat.id}.pgm",
        f"media/{traced.id}.pgm",
    }
    for piece in (boat, traced):
        stored = studio.media.read(piece.media_path, piece.media_sha256)
        assert archive.read(listed[piece.id]["file"]) == stored
    assert document["left_out"] == []


async def test_bob_gets_his_own_and_not_adas_after_leaving_the_session(studio: Workshop) -> None:
    pieces = await history(studio)
    await studio.command("/session leave", user="bob")
    document, archive = opened(await studio.command("/export me", user="bob"))
    assert {piece["number"] for piece in document["pieces"]} == {
        pieces["verse"].id,
        pieces["kite"].id,
    }
    texts = [m["text"] for c in document["conversations"] for m in c["messages"]]
    assert "bob's words in the session" in texts and "ada" not in json.dumps(texts)
    assert f"media/{pieces['boat'].id}.pgm" not in archive.namelist()


async def test_a_person_with_nothing_gets_a_clear_line(studio: Workshop) -> None:
    await studio.command("/session start a night market", user="ada")
    await studio.command("/session join", user="cy")  # known now, but nothing of theirs
    for user in ("cy", "dan"):  # dan has never spoken to atelier
        reply = await studio.command("/export me", user=user)
        assert (reply.text, reply.download, reply.private) == (NOTHING, None, True)
    assert not (studio.media.root.parent / "exports").exists()


async def test_the_export_is_only_ever_the_askers_own(studio: Workshop) -> None:
    await history(studio)
    for line in ("/export bob", "/export user=bob me", "/export #3"):
        reply = await studio.command(line, user="ada")
        assert reply.text == "`/export me`: a zip of your own messages and pieces."
        assert reply.download is None


async def test_over_the_limit_nothing_is_written_and_one_line_says_so(
    studio: Workshop, tmp_path: Path
) -> None:
    await history(studio)
    out = tmp_path / "small"
    exports = PersonalExports(studio.sessions, studio.media, out, limit_bytes=2_000)
    turn = Turn("test", UserRef("ada", "Ada"), DM, command=Command("export", text="me"))
    reply = await exports.run(turn)
    assert reply.text.startswith("Your export would be ") and "\n" not in reply.text
    assert reply.text.endswith("over the 1 KiB file limit, so nothing was written.")
    assert reply.download is None and not out.exists()


async def test_a_missing_file_is_listed_not_shipped_wrong(studio: Workshop) -> None:
    pieces = await history(studio)
    studio.media.path(pieces["boat"].media_path).write_bytes(b"changed on disk")
    reply = await studio.command("/export me", user="ada")
    document, archive = opened(reply)
    [gone] = document["left_out"]
    assert (gone["piece"], gone["reason"]) == (pieces["boat"].id, "missing")
    assert gone["file"] not in archive.namelist()
    assert reply.text.endswith("1 file missing from the store are listed.")


async def test_forget_takes_the_last_export_with_it(studio: Workshop) -> None:
    await history(studio)
    reply = await studio.command("/export me", user="ada")
    assert reply.download is not None and reply.download.path.exists()
    await studio.command("/forget yes", user="ada")
    assert not reply.download.path.exists()
    assert (await studio.command("/export me", user="ada")).text == NOTHING


async def test_the_zip_is_read_and_written_off_the_event_loop(
    studio: Workshop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While one person's export is written, the bot goes on answering everyone else."""
    await history(studio)
    threads: list[int] = []
    real_write = build.write_zip

    def watched(*args: Any, **kwargs: Any) -> None:
        threads.append(threading.get_ident())
        real_write(*args, **kwargs)

    monkeypatch.setattr(build, "write_zip", watched)
    reply = await studio.command("/export me", user="ada")
    assert reply.download is not None and threads and threading.get_ident() not in threads
