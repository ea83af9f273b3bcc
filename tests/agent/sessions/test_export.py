"""A group session's export: session.json valid against the shipped schema, an offline page
that headless Chromium renders with every piece and contributor (and nothing a member typed
turned into markup), the largest media left out to fit an upload limit, and a forgotten
member's work credited to "a former member"."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import timedelta
from html.parser import HTMLParser
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import select, update

from agent.sessions.canvas import FORMER_MEMBER
from agent.sessions.export import SCHEMA, Export, ExportTooLarge, export_session
from agent.sessions.export.archive import write_zip, zip_size
from agent.sessions.export.files import MediaFile
from agent.sessions.export.snapshot import PieceFacts, StoredFile
from agent.sessions.relay_lines import relay_poems
from agent.store.db import (
    Artifact,
    ArtifactFile,
    GroupSession,
    MemberRole,
    RoundCandidate,
    RoundState,
    RoundVote,
    SessionMode,
    SessionRound,
    SessionState,
    User,
    utcnow,
)
from agent.store.media import MediaCorrupted, MediaStore
from tests.support.loop_watch import watching_the_loop
from tests.support.studio_tools import SKETCH, TRACE, VERSE
from tests.support.workshop import MakeWorkshop, Workshop

LIMIT = 25 * 1024 * 1024  # Discord's upload limit
SCRIPTED = 'Cy <script>document.title="pwned"</script>'  # a name that tries to be markup
WAV_BYTES = 4000  # the session's largest file, well over a 16x16 sketch


@dataclass(frozen=True)
class Made:
    group_id: int
    tune: int  # the music piece with the largest file
    forgotten: int  # the piece whose maker was forgotten
    names: tuple[str, ...]  # every contributor


@pytest.fixture
def studio(make_studio: MakeWorkshop) -> Workshop:
    return make_studio([VERSE, SKETCH, TRACE])


async def made_session(studio: Workshop) -> Made:
    """Three members build on each other's pieces; a fourth is forgotten after Ada built on
    their sketch; a tune, a relay poem and a round are added as their own code stores them."""
    await studio.command("/session start mode=free style=ink a night market")
    for member in ("bob", "cy", "dan"):
        await studio.command("/session join", user=member)
    await studio.command("/sketch a lantern", user="ada")  # 1
    await studio.command("/trace #1", user="bob")  # 2: Bob's version of Ada's piece
    await studio.command("/verse the crowd", user="cy")  # 3
    await studio.command("/sketch a kite", user="dan")  # 4: Ada builds on it, Dan is forgotten
    await studio.command("/trace #4", user="ada")  # 5
    await studio.command("/forget yes", user="dan")
    async with studio.sessions() as session, session.begin():
        group = (await session.execute(select(GroupSession))).scalar_one()
        users = {u.external_id: u.id for u in (await session.execute(select(User))).scalars()}
        tune = _tune(studio.media, group.conversation_id, users["ada"])
        first = _relay(group.conversation_id, users["bob"], "line one\nline two", 2)
        session.add_all([tune, first])
        await session.flush()
        second = _relay(group.conversation_id, users["cy"], "line one\nline two\n\nline three", 1)
        second.parent_id, second.root_id, second.version = first.id, first.id, 2
        session.add(second)
        session.add(_round(group.id, users))
        await session.execute(
            update(User).where(User.external_id == "cy").values(display_name=SCRIPTED)
        )
    return Made(group.id, tune.id, 4, ("Ada", "Bob", SCRIPTED, FORMER_MEMBER))


def _tune(media: MediaStore, conversation_id: int, creator_id: int) -> Artifact:
    """A music piece as the music tool keeps it: its clip, with a preview picture beside it."""
    clip = media.put(b"RIFF" + os.urandom(WAV_BYTES - 4), "audio/wav")
    preview = media.put(b"\x89PNG\r\n\x1a\n" + os.urandom(120), "image/png")
    tune = Artifact(
        kind="music",
        conversation_id=conversation_id,
        creator_id=creator_id,
        prompt="lanterns humming",
        text="a tune of 3 phrases",
        media_path=clip.path,
        media_sha256=clip.sha256,
        mime_type=clip.mime_type,
    )
    tune.files.append(
        ArtifactFile(
            name="preview", path=preview.path, sha256=preview.sha256, mime_type="image/png"
        )
    )
    return tune


def _relay(conversation_id: int, creator_id: int, text: str, added: int) -> Artifact:
    """A relay poem's version as agent/sessions/relay.py stores one."""
    return Artifact(
        kind="poem",
        conversation_id=conversation_id,
        creator_id=creator_id,
        prompt="relay",
        text=text,
        params={"relay": {"added": added}},
    )


def _round(session_id: int, users: dict[str, int]) -> SessionRound:
    """Round 1, closed: #1 and #2 are the candidates; Ada and Cy voted #2, Bob #1."""
    opened = utcnow() - timedelta(minutes=10)
    round_ = SessionRound(
        session_id=session_id,
        number=1,
        kind="image",
        prompt="a lantern at dusk",
        state=RoundState.CLOSED,
        opened_at=opened,
        closes_at=opened + timedelta(minutes=5),
        closed_at=opened + timedelta(minutes=4),
        winner_id=2,
    )
    round_.candidates = [RoundCandidate(artifact_id=1), RoundCandidate(artifact_id=2)]
    round_.votes = [
        RoundVote(voter_id=users["ada"], artifact_id=2),
        RoundVote(voter_id=users["cy"], artifact_id=2),
        RoundVote(voter_id=users["bob"], artifact_id=1),
    ]
    return round_


def unzipped(export: Export, into: Path) -> tuple[dict[str, Any], Path]:
    with zipfile.ZipFile(export.path) as archive:
        archive.extractall(into)
    return json.loads((into / "session.json").read_text(encoding="utf-8")), into / "index.html"


def schema() -> dict[str, Any]:
    # Read as package data, as an installed atelier ships it.
    text = files("agent.sessions.export").joinpath(SCHEMA).read_text(encoding="utf-8")
    return json.loads(text)


# --- session.json ------------------------------------------------------------------------------


async def test_session_json_is_valid_and_holds_the_whole_session(
    studio: Workshop, tmp_path: Path
) -> None:
    made = await made_session(studio)
    export = await export_session(
        studio.sessions, made.group_id, studio.media, tmp_path / "out", limit_bytes=LIMIT
    )
    document, _ = unzipped(export, tmp_path / "unzipped")
    validator = Draft202012Validator(schema())
    assert list(validator.iter_errors(document)) == []
    assert export.path == tmp_path / "out" / f"session-{made.group_id}.zip"
    assert export.left_out == () and document["left_out"] == []
    assert document["session"]["theme"] == "a night market"
    assert document["session"]["style"] == "ink"
    assert [(m["name"], m["role"]) for m in document["members"]] == [
        ("Ada", "host"),
        ("Bob", "member"),
        (SCRIPTED, "member"),
    ]
    pieces = {piece["number"]: piece for piece in document["pieces"]}
    assert (pieces[2]["parent"], pieces[2]["root"], pieces[2]["version"]) == (1, 1, 2)
    assert (pieces[1]["contributor"], pieces[2]["contributor"]) == ("Ada", "Bob")
    assert pieces[made.tune]["file"] == f"media/{made.tune}.wav"
    assert pieces[made.tune]["files"][0]["file"] == f"media/{made.tune}-preview.png"
    [round_] = document["rounds"]
    assert round_["candidates"] == [1, 2] and round_["winner"] == 2
    assert round_["votes"] == [
        {"voter": "Ada", "piece": 2},
        {"voter": SCRIPTED, "piece": 2},
        {"voter": "Bob", "piece": 1},
    ]
    assert round_["tally"] == [{"piece": 1, "votes": 1}, {"piece": 2, "votes": 2}]
    [relay] = document["relay"]
    assert relay["lines"] == [
        {"text": "line one", "author": "Bob"},
        {"text": "line two", "author": "Bob"},
        {"text": "line three", "author": SCRIPTED},
    ]
    credits = [
        (c["name"], c["versions"], c["relay_lines"], c["votes"]) for c in document["credits"]
    ]
    assert credits == [
        ("Ada", 3, 0, 1),
        ("Bob", 2, 2, 1),
        (SCRIPTED, 2, 1, 1),
        (FORMER_MEMBER, 1, 0, 0),
    ]
    with zipfile.ZipFile(export.path) as archive:
        for piece in document["pieces"]:
            for name in [piece["file"], *(kept["file"] for kept in piece["files"])]:
                assert name is None or name in archive.namelist()


async def test_the_schema_is_not_vacuous(studio: Workshop, tmp_path: Path) -> None:
    made = await made_session(studio)
    export = await export_session(
        studio.sessions, made.group_id, studio.media, tmp_path, limit_bytes=LIMIT
    )
    document, _ = unzipped(export, tmp_path / "unzipped")
    validator = Draft202012Validator(schema())
    no_contributor = json.loads(json.dumps(document))
    del no_contributor["pieces"][0]["contributor"]
    stray = {**document, "extra": True}
    wrong_type = {**document, "members": [{**document["members"][0], "joined_at": 5}]}
    for bad in (no_contributor, stray, wrong_type):
        assert not validator.is_valid(bad)
    assert validator.is_valid(document)


def test_the_schema_names_every_mode_state_and_role() -> None:
    defs = schema()["$defs"]
    assert set(defs["session"]["properties"]["mode"]["enum"]) == set(SessionMode)
    assert set(defs["session"]["properties"]["state"]["enum"]) == set(SessionState)
    assert set(defs["member"]["properties"]["role"]["enum"]) == set(MemberRole)
    assert set(defs["round"]["properties"]["state"]["enum"]) == set(RoundState)
    Draft202012Validator.check_schema(schema())


def verse(number: int, parent: int | None, by: int | None, text: str, added: int) -> PieceFacts:
    name = FORMER_MEMBER if by is None else f"member {by}"
    return PieceFacts(
        number, "poem", 1, parent, 1, by, name, "", {"relay": {"added": added}}, text, utcnow(), ()
    )


def test_relay_lines_are_each_versions_last_lines_along_the_newest_ones_lineage() -> None:
    poems = relay_poems(
        [
            verse(1, None, None, "dawn\ndew", 2),  # by someone since forgotten
            verse(2, 1, 7, "dawn\ndew\n\nnoon", 1),  # a blank line is a stanza break
            verse(3, 1, 8, "dawn\ndew\ndusk\nnight", 2),  # a branch from #1: #2 lends nothing
        ]
    )
    assert [(line.text, line.author) for line in poems[0].lines] == [
        ("dawn", FORMER_MEMBER),
        ("dew", FORMER_MEMBER),
        ("dusk", "member 8"),
        ("night", "member 8"),
    ]
    assert (poems[0].root, poems[0].piece) == (1, 3)


# --- the page, as a browser renders it ------------------------------------------------------


class Dom(HTMLParser):
    """The rendered DOM's elements and text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.chunks: list[str] = []
        self.title = ""
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        if self.tags and self.tags[-1][0] == "title":
            self.title += data
        self.chunks.append(data)

    @property
    def text(self) -> str:
        return " ".join("".join(self.chunks).split())

    def sources(self, tag: str) -> list[str | None]:
        return [attrs.get("src") for name, attrs in self.tags if name == tag]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip(
            "chromium is not installed: `make test` installs Debian's chromium when it is "
            "missing, and apt-get could not install it here"
        )
    return found


async def rendered(page: Path) -> Dom:
    """The page's DOM after headless Chromium loaded it from disk, scripts (if any) run."""
    browser = chromium()
    with tempfile.TemporaryDirectory() as profile:
        process = await asyncio.create_subprocess_exec(
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            # This machine has no network: no background fetches, no first-run work.
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--dump-dom",
            page.as_uri(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode(errors="replace")[-2000:]
    return Dom(out.decode())


async def test_the_page_shows_every_piece_and_contributor_and_no_injected_markup(
    studio: Workshop, tmp_path: Path
) -> None:
    chromium()  # skip before the work when there is no browser
    made = await made_session(studio)
    export = await export_session(
        studio.sessions, made.group_id, studio.media, tmp_path, limit_bytes=LIMIT
    )
    document, page = unzipped(export, tmp_path / "unzipped")
    dom = await rendered(page)
    for piece in document["pieces"]:
        assert re.search(rf"#{piece['number']}\b", dom.text)
    for name in made.names:
        assert name in dom.text  # as text: the <script> in Cy's name is shown, not run
    assert not any(tag in {"script", "link"} for tag, _ in dom.tags)  # nothing run or fetched
    assert dom.title.strip() == "Session: a night market"  # no script retitled it
    assert "media/1.pgm" in dom.sources("img") and f"media/{made.tune}.wav" in dom.sources("audio")
    assert "line three" in dom.text and "Versions made" in dom.text
    # The version tree: Bob's version #2 is nested in Ada's #1.
    assert "#1 image v1 by Ada" in dom.text and "#2 image v2 by Bob, from #1" in dom.text


# --- fitting the upload limit --------------------------------------------------------------


async def test_the_largest_file_is_left_out_to_fit_the_limit(
    studio: Workshop, tmp_path: Path
) -> None:
    made = await made_session(studio)
    out = tmp_path / "out"
    whole = await export_session(
        studio.sessions, made.group_id, studio.media, out, limit_bytes=LIMIT
    )
    # Half the clip under the whole: leaving the clip out is enough, and less is not (the
    # text's size moves by a few bytes between runs, with the export's time in it).
    limit = whole.path.stat().st_size - WAV_BYTES // 2
    fitted = await export_session(
        studio.sessions, made.group_id, studio.media, out, limit_bytes=limit
    )
    clip = f"media/{made.tune}.wav"
    assert fitted.left_out == (clip,)
    assert fitted.path.stat().st_size <= limit
    assert [p.name for p in out.iterdir()] == [fitted.path.name]  # replaced, no stray temp
    document, page = unzipped(fitted, tmp_path / "unzipped")
    assert [(g["file"], g["reason"]) for g in document["left_out"]] == [(clip, "too large")]
    tune = next(p for p in document["pieces"] if p["number"] == made.tune)
    assert tune["file"] is None and tune["files"][0]["file"] is not None
    with zipfile.ZipFile(fitted.path) as archive:
        assert clip not in archive.namelist()
        assert f"media/{made.tune}-preview.png" in archive.namelist()
    html = page.read_text(encoding="utf-8")
    assert f"not included ({clip}: too large for the upload limit)" in html
    assert Draft202012Validator(schema()).is_valid(document)


async def test_files_go_largest_first_until_it_fits_and_text_alone_must_fit(
    studio: Workshop, tmp_path: Path
) -> None:
    made = await made_session(studio)
    whole = await export_session(
        studio.sessions, made.group_id, studio.media, tmp_path, limit_bytes=LIMIT
    )
    limit = whole.path.stat().st_size - WAV_BYTES - 1  # the clip's going is not enough
    fitted = await export_session(
        studio.sessions, made.group_id, studio.media, tmp_path, limit_bytes=limit
    )
    assert fitted.path.stat().st_size <= limit
    assert fitted.left_out[0] == f"media/{made.tune}.wav" and len(fitted.left_out) >= 2
    document, _ = unzipped(fitted, tmp_path / "unzipped")
    sizes = [gone["bytes"] for gone in document["left_out"]]
    assert sizes == sorted(sizes, reverse=True)
    with pytest.raises(ExportTooLarge):
        await export_session(
            studio.sessions, made.group_id, studio.media, tmp_path, limit_bytes=1000
        )


def test_the_size_is_known_before_the_zip_is_written(tmp_path: Path) -> None:
    store = MediaStore(tmp_path / "media")
    stored = [store.put(os.urandom(n), "image/png") for n in (10, 3000, 70_000)]
    media = [
        MediaFile(f"media/{i}.png", i, StoredFile(None, s.path, s.sha256, s.mime_type), n)
        for i, (s, n) in enumerate(zip(stored, (10, 3000, 70_000), strict=True), 1)
    ]
    texts = {"session.json": '{"a": "ünïcode"}' * 300, "index.html": "<p>hi</p>" * 1000}
    target = tmp_path / "out.zip"
    write_zip(target, texts, media, store, utcnow())
    assert target.stat().st_size == zip_size(texts, media)


# --- a former member ----------------------------------------------------------------------


async def test_a_forgotten_members_piece_is_a_former_members(
    studio: Workshop, tmp_path: Path
) -> None:
    made = await made_session(studio)
    export = await export_session(
        studio.sessions, made.group_id, studio.media, tmp_path, limit_bytes=LIMIT
    )
    document, page = unzipped(export, tmp_path / "unzipped")
    forgotten = next(p for p in document["pieces"] if p["number"] == made.forgotten)
    assert forgotten["contributor"] == FORMER_MEMBER
    assert not any(m["name"] == "Dan" for m in document["members"])
    page_text = Dom(page.read_text(encoding="utf-8")).text
    assert f"#{made.forgotten} image v1 by {FORMER_MEMBER}" in page_text
    assert f"#{made.forgotten + 1} image v2 by Ada, from #{made.forgotten}" in page_text
    assert "Dan" not in page_text


# --- the event loop -------------------------------------------------------------------------


async def test_8_mb_of_media_never_blocks_the_event_loop(
    studio: Workshop, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    made = await made_session(studio)
    big = studio.media.put(os.urandom(8 * 1024 * 1024), "audio/wav")
    async with studio.sessions() as session, session.begin():
        await session.execute(
            update(Artifact)
            .where(Artifact.id == made.tune)
            .values(media_path=big.path, media_sha256=big.sha256)
        )
    async with watching_the_loop(caplog) as watch:
        export = await export_session(
            studio.sessions, made.group_id, studio.media, tmp_path, limit_bytes=LIMIT
        )
    assert export.left_out == () and export.path.stat().st_size > 8 * 1024 * 1024
    assert not watch.blocked, (watch.slow, max(watch.gaps))


async def test_a_file_gone_from_the_store_is_listed_as_missing_not_shipped(
    studio: Workshop, tmp_path: Path
) -> None:
    made = await made_session(studio)
    [first] = [a for a in await studio.artifacts() if a.id == 1]
    assert first.media_path is not None
    studio.media.remove(first.media_path)
    export = await export_session(
        studio.sessions, made.group_id, studio.media, tmp_path, limit_bytes=LIMIT
    )
    document, page = unzipped(export, tmp_path / "unzipped")
    assert export.left_out == ()  # only what the limit took: this one is missing, not too large
    assert [(g["file"], g["reason"], g["bytes"]) for g in document["left_out"]] == [
        ("media/1.pgm", "missing", None)
    ]
    assert "not included (media/1.pgm: missing from the media store)" in page.read_text()
    assert Draft202012Validator(schema()).is_valid(document)


class ForgetfulStore(MediaStore):
    """A store whose file goes between the export's measuring and its writing, as when a
    member's /forget removes it meanwhile."""

    def __init__(self, root: Path, vanishing: str) -> None:
        super().__init__(root)
        self.vanishing, self.reads = vanishing, 0

    def read(self, relative: str, sha256: str) -> bytes:
        if relative == self.vanishing:
            self.reads += 1
            if self.reads > 1:
                raise MediaCorrupted(f"{relative} is missing from the media store")
        return super().read(relative, sha256)


async def test_a_file_that_goes_while_the_zip_is_written_is_left_out_as_missing(
    studio: Workshop, tmp_path: Path
) -> None:
    made = await made_session(studio)
    [tune] = [a for a in await studio.artifacts() if a.id == made.tune]
    assert tune.media_path is not None
    store = ForgetfulStore(studio.media.root, tune.media_path)
    export = await export_session(
        studio.sessions, made.group_id, store, tmp_path, limit_bytes=LIMIT
    )
    document, _ = unzipped(export, tmp_path / "unzipped")
    assert export.left_out == () and store.reads == 2
    assert [(g["file"], g["reason"]) for g in document["left_out"]] == [
        (f"media/{made.tune}.wav", "missing")
    ]
    with zipfile.ZipFile(export.path) as archive:
        assert f"media/{made.tune}.wav" not in archive.namelist()
