"""What a person sends, made safe once, where it enters the agent (Agent.respond's first step).

Transports hand over text as it came. Discord's JSON can carry a lone UTF-16 surrogate, a
console line a NUL or another control byte, and nothing bounded an option's length. Such text
broke things far from where it entered: a surrogate made the tokenizer raise, a NUL made
libsndfile refuse a clip's tags and PostgreSQL refuse a row (the finished poem lost), and a
100,000-character value came back whole in the reply that refused it.

So every text of a Turn is cleaned here (`clean_text`): lone surrogates become U+FFFD, control
characters other than newline and tab go, and the rest is put in Unicode NFC, so that one
word is stored, counted and compared one way. Before that, what is cheap to check is bounded
(`refusal`): the size of the free text and of a command's text, the number of options, each
option's name and the length of its value. A refusal is one line that quotes at most an
`excerpt` of what it refused, and nothing of the turn is stored.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from agent.types import Attachment, Command, Place, Reply, Turn

MAX_VALUE_CHARS = 4_000  # an option's value, or a command's text (Discord allows 6,000 in all)
MAX_OPTIONS = 32
MAX_NAME_CHARS = 32  # a command's or an option's name
MAX_FILES = 10  # what Discord lets one message carry
# A typed number past a BIGINT is no piece, seed or count; past 4,300 digits Python will not
# even turn it into text (str() raises), which a refusal or the history would do.
MAX_INT = 2**63 - 1
EXCERPT_CHARS = 60  # the most of a refused value a reply quotes
# Columns hold these (agent/store/db.py): a display name, ids, an upload's name and type.
MAX_DISPLAY_NAME = 100
MAX_ID_CHARS = 64
MAX_FILE_NAME = 100
MAX_MIME_TYPE = 100

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SURROGATE = re.compile("[\ud800-\udfff]")
# C0 and C1 controls and DEL, except tab and newline; a carriage return ends a line.
_CONTROLS: dict[int, str | None] = {
    code: None for code in (*range(0x20), *range(0x7F, 0xA0)) if chr(code) not in "\t\n"
}
_CONTROLS[ord("\r")] = "\n"


def clean_text(text: str) -> str:
    """`text` with lone surrogates replaced, controls but newline and tab removed, in NFC."""
    if _SURROGATE.search(text):
        # Through UTF-16: a high and low surrogate that were split into two code points join
        # into their character again; a lone one becomes U+FFFD.
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    text = text.replace("\r\n", "\n").translate(_CONTROLS)
    if text.isascii() or unicodedata.is_normalized("NFC", text):
        return text
    return unicodedata.normalize("NFC", text)


def excerpt(value: object, limit: int = EXCERPT_CHARS) -> str:
    """At most `limit` characters of `value`, cleaned and on one line, for a reply to quote."""
    raw = value if isinstance(value, str) else _shown(value)
    flat = " ".join(clean_text(raw[: limit * 2]).split())  # only the start is ever shown
    return flat if len(flat) <= limit and len(raw) <= limit * 2 else flat[: limit - 1] + "…"


def _shown(value: object) -> str:
    try:
        return repr(value)
    except ValueError:  # an int of more than 4,300 digits, which Python will not print
        return "a number too long to show"


def clipped(text: str, limit: int) -> str:
    """`text` cut to `limit` characters (ids and names whose column holds no more)."""
    return text if len(text) <= limit else text[:limit]


def admit(turn: Turn, *, text_limit: int) -> Turn | Reply:
    """The Turn cleaned, or a one-line refusal (nothing stored) when it is out of bounds.
    `text_limit` is the longest free text the agent reads (Settings.max_message_chars)."""
    problem = refusal(turn, text_limit=text_limit)
    if problem is not None:
        return Reply(problem, stored=False)
    return clean_turn(turn)


def refusal(turn: Turn, *, text_limit: int) -> str | None:
    """Why `turn` is refused before anything reads it, or None. Checked on the raw values,
    so that nothing is cleaned or parsed at a size no one would send."""
    if len(turn.text) > text_limit:
        return _too_long("That message", len(turn.text), text_limit)
    if len(turn.attachments) > MAX_FILES:
        return f"That is {len(turn.attachments)} files; send up to {MAX_FILES} at once."
    return None if turn.command is None else _command_refusal(turn.command)


def _command_refusal(command: Command) -> str | None:
    if len(command.name) > MAX_NAME_CHARS:
        return f"There is no command /{excerpt(command.name, MAX_NAME_CHARS)}. /help lists them."
    name = clean_text(command.name)
    if len(command.args) > MAX_OPTIONS:
        return f"/{name} has {len(command.args)} options; I read up to {MAX_OPTIONS}."
    for key, value in command.args.items():
        if not _is_name(key):
            return (
                f"/{name}: {excerpt(key, MAX_NAME_CHARS)!r} is not an option name (letters, "
                f"digits and _, up to {MAX_NAME_CHARS})."
            )
        if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
            return _too_long(f"/{name}'s {key}", len(value), MAX_VALUE_CHARS)
        if isinstance(value, int) and abs(value) > MAX_INT:
            return f"/{name}'s {key} is a number too large to read."
    if len(command.text) > MAX_VALUE_CHARS:
        return _too_long(f"The text after /{name}", len(command.text), MAX_VALUE_CHARS)
    return None


def _is_name(key: object) -> bool:
    return isinstance(key, str) and len(key) <= MAX_NAME_CHARS and bool(_NAME.fullmatch(key))


def _too_long(what: str, length: int, limit: int) -> str:
    return (
        f"{what} is {length:,} characters; the limit is {limit:,}. "
        "Please shorten it or split it into parts. Nothing was stored."
    )


def clean_turn(turn: Turn) -> Turn:
    """Every text of `turn` cleaned (clean_text): the words, the command's name, text and
    string options, the files' names and types, who is speaking and the place's ids."""
    return dataclasses.replace(
        turn,
        user=dataclasses.replace(  # the transport's typed fields (manages_server) kept
            turn.user,
            external_id=_clean_id(turn.user.external_id),
            display_name=clipped(clean_text(turn.user.display_name), MAX_DISPLAY_NAME),
        ),
        place=_clean_place(turn.place),
        text=clean_text(turn.text),
        attachments=tuple(_clean_attachment(attachment) for attachment in turn.attachments),
        reply_to=None if turn.reply_to is None else _clean_id(turn.reply_to),
        command=None if turn.command is None else _clean_command(turn.command),
    )


def _clean_command(command: Command) -> Command:
    return Command(
        name=clean_text(command.name),
        args=_clean_options(command.args),
        text=clean_text(command.text),
    )


def _clean_options(args: Mapping[str, Any]) -> dict[str, Any]:
    # Typed values (a button's piece number, a Discord integer option) pass as they are.
    return {key: clean_text(v) if isinstance(v, str) else v for key, v in args.items()}


def _clean_place(place: Place) -> Place:
    # An id that was nothing but controls is no id: None, never "", which the database's
    # one-conversation-per-place index takes for the same place as None.
    return dataclasses.replace(
        place,
        channel_id=_clean_id(place.channel_id or "") or None,
        guild_id=_clean_id(place.guild_id or "") or None,
        thread_id=_clean_id(place.thread_id or "") or None,
    )


def _clean_id(value: str) -> str:
    # Discord's ids are digits, but the console's person is the name given to /as; NFC can
    # make a name longer, so it is cut to what the column holds, the same way every time.
    return clipped(clean_text(value), MAX_ID_CHARS)


def _clean_attachment(attachment: Attachment) -> Attachment:
    return Attachment(
        filename=_file_name(clean_text(attachment.filename)),
        mime_type=clipped(clean_text(attachment.mime_type), MAX_MIME_TYPE),
        data=attachment.data,
    )


def _file_name(name: str) -> str:
    """A long file name shortened, keeping its extension (a type may be guessed from it)."""
    if len(name) <= MAX_FILE_NAME:
        return name
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem or len(extension) > 16:
        return name[:MAX_FILE_NAME]
    return stem[: MAX_FILE_NAME - len(extension) - 2] + "…." + extension
