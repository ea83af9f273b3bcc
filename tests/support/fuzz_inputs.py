"""Hypothesis strategies for what a hostile or careless person can send: Turns.

Free text mixes the characters that broke things before (lone surrogates, NUL and other
controls, a carriage return, combining marks, bidi overrides) with CJK, emoji, the words that
make the agent do something (a tool's name, #N, "apply suggestion 1") and lengths far past
every limit. Commands get real and random names, keys and values, typed or not; attachments
get random names, declared types and bytes, often behind a real file header.
"""

from __future__ import annotations

import io
import struct
import wave
from collections.abc import Sequence

from hypothesis import strategies as st
from PIL import Image

from agent.account import HELP
from agent.sessions.commands import ACTIONS, HOST_ACTIONS
from agent.types import Attachment, Command, Place, Turn, UserRef
from tests.support.studio_tools import PGM_HEADER
from tools.contract import Tool

# Every code point, lone surrogates (category Cs) included: Discord's JSON can carry them.
ANY_CHAR = st.characters(exclude_categories=())
CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
TRICKY = (
    *("\x00", "\ud800", "\udfff", "\udbff\udc00", "\ud83d\ude00", "\r\n", "\r", "\t", "\n\n"),
    *("\x1b[31m", "\x7f", "\x85", "\u202e", "\ufeff", "\u200b", "e\u0301", "\ufffd", "\u0958"),
    *("🎨", "👩\u200d🎨", "@everyone", "<@123>", "```", "||x||", "%s", "{0}", "'; DROP TABLE"),
    *("#1", "#2", "#0", "#2147483648", "#999999999999", "seed 7", "seed=99999999999999"),
    *("haiku", "a variation", "make it darker", "apply suggestion 1", "extend it", "yes"),
    *("第二行", "俳句", "写一首诗", "画一幅画", "²", "١٢", "Ⅻ", "x" * 60),
)
PIECE_WORDS = ("1", "2", "#1", "²", "١٢", "-1", "0", "2147483648", "9" * 40, "nan", "1e309")


def fragments() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(TRICKY),
        st.text(ANY_CHAR, max_size=24),
        st.text(CJK, min_size=1, max_size=12),
        st.text(st.characters(codec="ascii"), max_size=24),
    )


def texts() -> st.SearchStrategy[str]:
    """Words as a person might send them: mostly short mixes, sometimes far too long."""
    mixed = st.lists(fragments(), max_size=8).map("".join)
    huge = st.builds(lambda unit, times: unit * times, fragments(), st.integers(100, 30_000))
    return st.one_of(*[mixed] * 9, huge)


def free_texts(tools: Sequence[Tool]) -> st.SearchStrategy[str]:
    """Free text, often starting with a tool's name: the fuzz router (fuzzing.py) then sends
    it to that tool, as a router would send "a poem about ..." to the poem tool."""
    leads = st.sampled_from([tool.name for tool in tools] + ["revise"])
    led = st.builds(lambda lead, rest: f"{lead} {rest}", leads, texts())
    return st.one_of(texts(), led)


def names(tools: Sequence[Tool]) -> st.SearchStrategy[str]:
    known = [tool.name for tool in tools] + list(HELP)
    return st.sampled_from(["known"] * 3 + ["any"]).flatmap(
        lambda way: st.sampled_from(known) if way == "known" else texts()
    )


def keys(tools: Sequence[Tool]) -> st.SearchStrategy[str]:
    fields = sorted({name for tool in tools for name in tool.args.model_fields})
    known = [*fields, "action", "count", "before", "after", "confirm", "mode", "piece"]
    return st.one_of(
        st.sampled_from(known),
        st.sampled_from(known),
        st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,40}", fullmatch=True),
        st.text(ANY_CHAR, max_size=40),
    )


def values() -> st.SearchStrategy[object]:
    modes = ("free", "relay", "rounds")  # a session's, so that some start
    words = (*PIECE_WORDS, *ACTIONS, *HOST_ACTIONS, *modes, "haiku", "vary", "extend", "yes")
    return st.one_of(
        st.sampled_from(words),
        texts(),
        st.integers(),
        st.integers(min_value=-(2**80), max_value=2**80),
        st.just(10**5_000),  # more digits than Python will turn into text
        st.floats(),
        st.booleans(),
        st.none(),
    )


def commands(tools: Sequence[Tool]) -> st.SearchStrategy[Command]:
    fields = sorted({name for tool in tools for name in tool.args.model_fields})
    kinds = {
        "none": st.just({}),
        "fields": st.dictionaries(st.sampled_from(fields), values(), max_size=3),
        "any": st.dictionaries(keys(tools), values(), max_size=5),
        "many": st.dictionaries(keys(tools), values(), min_size=30, max_size=40),
    }
    options = st.sampled_from(["none"] * 3 + ["fields"] * 3 + ["any"] * 3 + ["many"])
    return st.builds(Command, name=names(tools), args=options.flatmap(kinds.get), text=texts())


def session_commands() -> st.SearchStrategy[Command]:
    """/session with a real action (a random one would only ever be "takes start, join ...")."""
    actions = st.sampled_from((*ACTIONS, *HOST_ACTIONS))
    return st.builds(
        lambda action, options, text: Command("session", {"action": action, **options}, text),
        actions,
        st.dictionaries(st.sampled_from(("mode", "piece", "count", "minutes", "jury")), values()),
        texts(),
    )


def _png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "teal").save(buffer, format="PNG")
    return buffer.getvalue()


def _wav(seconds: float) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x10" * int(8000 * seconds))
    return buffer.getvalue()


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG header that claims a huge picture (a decompression bomb's first bytes)."""
    small = _png(1, 1)
    header = struct.pack(">II", width, height)
    return small[:16] + header + small[24:]


VALID_FILES = (
    _png(2, 2),
    _png(64, 32),
    _png_claiming(100_000, 100_000),
    _wav(0.5),
    _wav(0.01),
    PGM_HEADER + bytes(range(256)),
)
HEADERS = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff\xe0",
    b"GIF89a",
    b"BM",
    b"RIFF\x24\x00\x00\x00WAVEfmt ",
    b"RIFF\x00\x00\x00\x00WEBPVP8 ",
    b"OggS\x00\x02",
    b"fLaC",
    b"ID3\x04",
    PGM_HEADER,
    _wav(0.5)[:44],
)
FILE_NAMES = ("me.pgm", "a.png", "b.jpg", "c.gif", "d.webp", "x.wav", "y.ogg", "z.mp3", "n.xlsx")
MIME_TYPES = (
    *("image/png", "image/jpeg", "image/gif", "image/webp", "image/x-portable-graymap"),
    *("audio/wav", "audio/x-wav", "audio/ogg", "audio/mpeg", "audio/flac", "text/plain"),
    *("application/octet-stream", "", "IMAGE/PNG", "image/png; charset=binary"),
)


# Files a tool takes, named and typed as a person's client would send them.
GOOD_FILES = (
    Attachment("photo.png", "image/png", VALID_FILES[1]),
    Attachment("tiny.png", "", VALID_FILES[0]),
    Attachment("bomb.png", "image/png", VALID_FILES[2]),
    Attachment("take.wav", "audio/wav", VALID_FILES[3]),
    Attachment("blip.wav", "audio/x-wav", VALID_FILES[4]),
    Attachment("me.pgm", "image/x-portable-graymap", VALID_FILES[5]),
)


def attachments() -> st.SearchStrategy[Attachment]:
    return st.one_of(st.sampled_from(GOOD_FILES), _random_attachments())


def _random_attachments() -> st.SearchStrategy[Attachment]:
    name = st.one_of(
        st.sampled_from(FILE_NAMES),
        st.builds(lambda stem, ext: stem + ext, texts(), st.sampled_from(FILE_NAMES)),
        texts(),
    )
    mime = st.one_of(st.sampled_from(MIME_TYPES), st.text(ANY_CHAR, max_size=60))
    data = st.one_of(
        st.sampled_from(VALID_FILES),
        st.builds(
            lambda head, tail: head + tail, st.sampled_from(HEADERS), st.binary(max_size=600)
        ),
        st.binary(max_size=600),
    )
    return st.builds(Attachment, filename=name, mime_type=mime, data=data)


def people() -> st.SearchStrategy[UserRef]:
    """A few regulars, so histories grow, and strangers named as the console's /as allows."""
    regular = st.sampled_from([UserRef("ada", "Ada"), UserRef("bo", "Bo"), UserRef("9", "Cy")])
    stranger = st.builds(UserRef, st.text(ANY_CHAR, min_size=1, max_size=64), texts())
    return st.one_of(regular, regular, stranger)


def places() -> st.SearchStrategy[Place]:
    known = st.sampled_from(
        [Place(), Place(channel_id="c1", guild_id="g1", is_direct=False), Place(channel_id="dm")]
    )
    ids = st.text(ANY_CHAR, min_size=1, max_size=64)
    other = st.builds(Place, channel_id=ids, guild_id=st.none() | ids, is_direct=st.booleans())
    return st.one_of(known, known, known, other)


def turns(tools: Sequence[Tool]) -> st.SearchStrategy[Turn]:
    """A Turn: free text or a command (whose words are its text, as transports send it),
    sometimes with files, replying to something or not."""
    ways = {
        "words": st.tuples(free_texts(tools), st.none()),
        "command": st.tuples(st.just(""), commands(tools)),
        "session": st.tuples(st.just(""), session_commands()),
    }
    # sampled_from weighs its elements evenly, where one_of may not: half the turns are words.
    said = st.sampled_from(["words"] * 3 + ["command"] * 2 + ["session"]).flatmap(ways.get)
    # Up to three files: more than ten is refused before any is read (test_boundary.py).
    files = st.one_of(st.just(()), st.lists(attachments(), min_size=1, max_size=3).map(tuple))
    return st.builds(
        lambda platform, user, place, said, files, reply_to: Turn(
            platform, user, place, said[0], files, reply_to, command=said[1]
        ),
        st.sampled_from(["console", "discord"]),
        people(),
        places(),
        said,
        files,
        st.none() | st.text(ANY_CHAR, max_size=20),
    )
