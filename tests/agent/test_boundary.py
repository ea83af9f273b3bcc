"""Input at the boundary (agent/boundary.py): every text a person sends is cleaned once before
anything counts, parses or stores it, options are bounded before they are parsed, and a
refusal quotes no more than an excerpt of what it refused.

The failures an outside test of main found are replayed here through the real agent, on
SQLite and (with ATELIER_TEST_POSTGRES_URL) PostgreSQL: a lone surrogate that made the
tokenizer raise, a NUL that made the music tool fail and, on PostgreSQL, lost a finished
poem, and a 100,000-character bad value answered with a 101,000-character reply.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from agent.boundary import EXCERPT_CHARS, MAX_FILE_NAME, clean_text, excerpt, refusal
from agent.store.db import Conversation, User
from agent.types import Attachment, Command, Place, Reply, Turn, UserRef
from tests.support.fuzzing import ModelsNotHere
from tests.support.studio_tools import PGM, PGM_HEADER, TRACE, VERSE
from tests.support.workshop import PLACE, MakeWorkshop, Workshop
from tools.lineup import creative_tools
from tools.models.registry import ModelRegistry
from tools.models.text import LoadedCausalLM
from tools.music.files import read_tags
from tools.music.tool import MUSIC_TOOL
from tools.poem.tool import POEM_TOOL

GREY = PGM_HEADER + bytes(range(256))
SHORT_REPLY = 200  # a refusal's one line


class OneModel:
    """Every role served by the tiny chat model (the poem tool's only role)."""

    def __init__(self, loaded: LoadedCausalLM) -> None:
        self.loaded = loaded

    def get(self, role: str) -> Any:
        return self.loaded


@pytest.fixture
def one_thread() -> Iterator[None]:
    # The tiny MusicGen's operations are microseconds long: a second thread only adds hand-offs.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def turn_with(command: Command, **fields: Any) -> Turn:
    return Turn("test", UserRef("ada", "Ada"), PLACE, command=command, **fields)


async def stored_texts(studio: Workshop) -> list[str]:
    """Every text the turn kept: messages, pieces' prompts and texts."""
    pieces = await studio.artifacts()
    return [m.content for m in await studio.messages()] + [
        text for piece in pieces for text in (piece.prompt, piece.text or "")
    ]


def assert_clean(texts: list[str]) -> None:
    for text in texts:
        text.encode("utf-8")  # raises on a lone surrogate
        assert "\x00" not in text and clean_text(text) == text, text


# --- the text function -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("caf\u0065\u0301", "caf\u00e9"),  # NFC: one word stored, counted and compared one way
        ("a heron\x00 in the rain", "a heron in the rain"),
        ("lone \ud800 surrogate", "lone \ufffd surrogate"),
        ("a split pair \ud83d\ude00", "a split pair \U0001f600"),  # joined, not replaced
        ("one\r\ntwo\rthree", "one\ntwo\nthree"),
        ("tab\tand\nnewline stay", "tab\tand\nnewline stay"),
        ("\x1b[31mred\x7f\x85", "[31mred"),
        ("写一首诗 🎨", "写一首诗 🎨"),
    ],
)
def test_text_is_cleaned_once_into_what_every_store_takes(sent: str, kept: str) -> None:
    assert clean_text(sent) == kept


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.text(st.characters(exclude_categories=())))
def test_cleaned_text_is_utf8_without_controls_in_nfc_and_stays_so(text: str) -> None:
    cleaned = clean_text(text)
    cleaned.encode("utf-8")  # no lone surrogate left
    assert not any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in cleaned)
    assert unicodedata.is_normalized("NFC", cleaned)
    assert clean_text(cleaned) == cleaned


@settings(max_examples=200, derandomize=True, deadline=None)
@given(st.text(st.characters(exclude_categories=()), max_size=500))
def test_an_excerpt_is_short_clean_and_on_one_line(text: str) -> None:
    shown = excerpt(text)
    assert len(shown) <= EXCERPT_CHARS and "\n" not in shown and clean_text(shown) == shown


@pytest.mark.parametrize(
    ("command", "said"),
    [
        (Command("verse", {f"k{n}": "1" for n in range(33)}), "has 33 options; I read up to 32"),
        (Command("verse", {"no-such!": "1"}), "'no-such!' is not an option name"),
        (Command("verse", {"x" * 5_000: "1"}), "is not an option name"),
        (Command("verse", {"form": "x" * 4_001}), "/verse's form is 4,001 characters"),
        (Command("verse", {}, "y" * 100_000), "The text after /verse is 100,000 characters"),
        (Command("v" * 100_000), "There is no command /vvvv"),
        (Command("show", {"piece": 10**5_000}), "/show's piece is a number too large to read"),
    ],
)
def test_out_of_bounds_commands_are_refused_in_one_short_line(command: Command, said: str) -> None:
    problem = refusal(turn_with(command), text_limit=4_000)
    assert problem is not None and said in problem
    assert "\n" not in problem and len(problem) < SHORT_REPLY


# --- through the agent -------------------------------------------------------------------


async def test_a_lone_surrogate_is_answered_and_stored_replaced(
    make_studio: MakeWorkshop,
) -> None:
    studio = make_studio([VERSE])
    reply = await studio.say("hello \ud800 there")  # was: TypeError from count_tokens
    assert reply.stored
    said, answered = await studio.messages()
    assert said.content == "hello \ufffd there" and answered.content == reply.text
    assert_clean(await stored_texts(studio))


async def test_a_nul_in_a_poem_request_keeps_the_poem(
    make_studio: MakeWorkshop, tiny_chat: LoadedCausalLM
) -> None:
    studio = make_studio([POEM_TOOL], models=OneModel(tiny_chat))
    # On PostgreSQL the NUL made the finished poem's row fail, and the poem was lost.
    reply = await studio.command("/poem seed=3 form=haiku a heron\x00 in the rain")
    [poem] = await studio.artifacts()
    assert reply.stored and [made.number for made in reply.artifacts] == [poem.id]
    assert poem.prompt == "a heron in the rain" and poem.text
    said, _shown = await studio.messages()
    assert said.content == "/poem seed=3 form=haiku a heron in the rain"
    assert_clean(await stored_texts(studio))


async def test_a_nul_in_a_music_request_makes_the_clip(
    make_studio: MakeWorkshop, tiny_models: ModelRegistry, one_thread: None
) -> None:
    studio = make_studio([MUSIC_TOOL], models=tiny_models)
    # The NUL reached the clip's tags, which libsndfile refused: the tool failed.
    reply = await studio.command("/music duration=1 seed=1 rain\x00 on a tin roof")
    [clip] = await studio.artifacts()
    assert reply.stored and reply.artifacts[0].number == clip.id
    tags = read_tags(studio.media.read(clip.media_path, clip.media_sha256))
    assert tags.description == "rain on a tin roof"
    assert_clean(await stored_texts(studio))


async def test_a_huge_bad_value_is_refused_in_one_line_that_does_not_echo_it(
    make_studio: MakeWorkshop,
) -> None:
    studio = make_studio([*creative_tools(), VERSE], models=ModelsNotHere())
    huge = "x" * 100_000
    for line in (f"/poem form={huge} a heron", f"/image aspect={huge} a fox", f"/verse {huge}"):
        reply = await studio.command(line)  # was: a 101,000-character reply
        assert "100,000 characters; the limit is 4,000" in reply.text, line
        assert not reply.stored and len(reply.text) < SHORT_REPLY
    assert await studio.messages() == [] and await studio.artifacts() == []


@pytest.mark.parametrize(
    "line",
    [
        "/poem form={v} a heron",  # the form's validator quotes the value
        "/image aspect={v} a fox",  # so does the aspect's
        "/music guidance={v} rain",  # pydantic's own message, with the input
        "/verse form={v} {v}",  # two problems: a literal and a length
    ],
)
async def test_a_refused_value_is_quoted_as_an_excerpt(
    make_studio: MakeWorkshop, line: str
) -> None:
    studio = make_studio([*creative_tools(), VERSE], models=ModelsNotHere())
    value = "abcdefghij" * 300
    reply = await studio.command(line.format(v=value))
    assert not reply.stored and len(reply.text) < 2_000
    assert value[: EXCERPT_CHARS + 1] not in reply.text and value[:20] in reply.text
    assert await studio.messages() == []


async def test_unknown_options_are_named_a_few_at_a_time(make_studio: MakeWorkshop) -> None:
    studio = make_studio([VERSE])
    unknown = {f"option_{n:02}_" + "z" * 20: "1" for n in range(30)}
    reply = await studio.agent.respond(turn_with(Command("verse", unknown, "a heron")))
    first = reply.text.splitlines()[0]
    assert first.startswith("/verse does not take option_00_zzz") and first.endswith(
        " and 26 more."
    )
    assert len(reply.text) < 2_000 and not reply.stored


async def test_too_many_options_or_files_are_refused_before_anything_is_read(
    make_studio: MakeWorkshop,
) -> None:
    studio = make_studio([TRACE])
    many = {f"opt{n}": str(n) for n in range(40)}
    reply = await studio.agent.respond(turn_with(Command("trace", many, "invert it")))
    assert reply.text == "/trace has 40 options; I read up to 32." and not reply.stored
    files = tuple(Attachment(f"{n}.pgm", PGM, GREY) for n in range(11))
    reply = await studio.agent.respond(turn_with(Command("trace", {}, "x"), attachments=files))
    assert reply.text == "That is 11 files; send up to 10 at once."
    assert await studio.artifacts() == [] and studio.media_files() == []


async def test_names_ids_and_file_names_are_stored_clean(make_studio: MakeWorkshop) -> None:
    studio = make_studio([TRACE])
    long_name = "self portrait\x00 " + "é" * 300 + ".pgm"
    turn = Turn(
        "test",
        UserRef("ada\x00", "A\u0308da\ud800"),
        Place(channel_id="c\x001", guild_id="g1", is_direct=False),
        command=Command("trace", {}, "invert it"),
        attachments=(Attachment(long_name, PGM, GREY),),
    )
    reply = await studio.agent.respond(turn)
    upload, traced = await studio.artifacts()
    assert reply.artifacts[0].number == traced.id
    assert len(upload.prompt) <= MAX_FILE_NAME and upload.prompt.endswith("….pgm")
    assert upload.prompt.startswith("self portrait éé")
    async with studio.sessions() as session:
        user = (await session.execute(select(User))).scalar_one()
        conversation = (await session.execute(select(Conversation))).scalar_one()
    assert (user.external_id, user.display_name) == ("ada", "\u00c4da\ufffd")
    assert conversation.channel_id == "c1"
    assert_clean(await stored_texts(studio))


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ("/show piece=²", "Which piece?"),  # str.isdigit says yes; int() said ValueError
        ("/show piece=" + "9" * 3_000, "Which piece?"),  # not "I can't find #999..." in full
        ("/keep piece=١٢", "Which piece?"),
        ("/diff before=² after=1", "Which two pieces?"),
        ("/" + "q" * 31 + "\x00", "Unknown command /qqq"),
    ],
)
async def test_odd_piece_numbers_and_names_get_one_short_line(
    make_studio: MakeWorkshop, line: str, said: str
) -> None:
    studio = make_studio([VERSE])
    reply = await studio.command(line)
    assert reply.text.startswith(said) and not reply.stored and len(reply.text) < 2_000


async def test_a_typed_piece_number_past_any_piece_is_no_piece(make_studio: MakeWorkshop) -> None:
    studio = make_studio([VERSE])
    for piece in (2**63, 2**31, True, 1.5):
        reply = await studio.agent.respond(turn_with(Command("show", {"piece": piece})))
        assert isinstance(reply, Reply) and not reply.stored and len(reply.text) < SHORT_REPLY


async def test_an_id_of_nothing_but_controls_is_no_id(make_studio: MakeWorkshop) -> None:
    studio = make_studio([VERSE])
    for channel in ("\x00\x1b", None):  # "" would be None's place to the unique index
        reply = await studio.say("hello", place=Place(channel_id=channel))
        assert reply.stored
    async with studio.sessions() as session:
        [conversation] = (await session.execute(select(Conversation))).scalars()
    assert conversation.channel_id is None
