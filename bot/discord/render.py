"""Reply -> Discord messages: text split under the 2,000-character limit, files attached.

Discord refuses a message over 2,000 characters (discord.py does not check; Discord answers
400), so text is split on line boundaries, and never so that a ``` code block is cut open: a
block that fits in one message moves whole to the next; a block longer than a message is
closed at the end of each part and reopened (same language tag) at the start of the next.

Pieces made in the turn are listed by number (#N) so people can refer to them, with their
files attached when they are within the size limit. A picture over it is sent as a smaller
JPEG (fit.py); any other file over it is named in one line instead. A file the reply hands
over (a session's export zip, `Reply.download`) is attached the same way, under its own name,
or said to be over the upload limit. Everything here is pure: reading (and shrinking) files
happens in the caller, off the event loop.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from agent.types import Download, MadeArtifact, Reply
from bot.discord.shrink_images import IMAGE_SUFFIXES
from tools.units import MIB

MESSAGE_LIMIT = 2000
FILES_PER_MESSAGE = 10  # Discord's limit
FENCE = re.compile(r"^\s*```")


@dataclass(frozen=True)
class OutFile:
    """A file to attach: on disk (an artifact's media) or in memory (a reply attachment)."""

    filename: str
    path: Path | None = None
    data: bytes | None = None
    # Set when the picture at `path` is over the limit: send it shrunk to this many bytes.
    shrink_to: int | None = None


@dataclass(frozen=True)
class OutMessage:
    content: str
    files: tuple[OutFile, ...] = ()
    # The pieces this message shows: a reply to it is about them.
    artifacts: tuple[int, ...] = ()


@dataclass
class _Block:
    lines: list[str]
    fence: str | None = None  # the opening fence line when this block is code

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def render_reply(reply: Reply, *, file_limit_bytes: int) -> list[OutMessage]:
    """The messages that show `reply`, in order. The pieces made (their #N lines and files)
    close the last message, or follow in messages of their own when they do not fit."""
    numbers = tuple(a.number for a in reply.artifacts)
    files = [f for a in reply.artifacts for f in _artifact_files(a, file_limit_bytes)]
    lines = _artifact_lines(reply.artifacts, file_limit_bytes)
    if reply.download is not None:
        handed = _download_file(reply.download, file_limit_bytes)
        files += [handed] if isinstance(handed, OutFile) else []
        lines += [handed] if isinstance(handed, str) else []
    tail = "\n".join(lines)
    chunks = split_text(reply.text)
    if tail and chunks and len(chunks[-1]) + 1 + len(tail) <= MESSAGE_LIMIT:
        chunks[-1] += "\n" + tail
    elif tail:
        chunks += split_text(tail)
    if not chunks and files:
        chunks = [""]
    messages = [OutMessage(chunk) for chunk in chunks]
    if messages and (files or numbers):
        first_files = tuple(files[:FILES_PER_MESSAGE])
        messages[-1] = OutMessage(messages[-1].content, first_files, numbers)
    for start in range(FILES_PER_MESSAGE, len(files), FILES_PER_MESSAGE):
        messages.append(OutMessage("", tuple(files[start : start + FILES_PER_MESSAGE]), numbers))
    return messages


def _artifact_lines(artifacts: tuple[MadeArtifact, ...], file_limit_bytes: int) -> list[str]:
    lines = []
    for artifact in artifacts:
        if artifact.media_path is None:
            lines.append(_clip(artifact.line, 200))
            continue
        # The line names the file's path on the server; people see the attachment instead.
        size = _size(artifact.media_path)
        line = f"#{artifact.number} {artifact.kind}"
        if size is None:
            line += " (its file is missing on the server)"
        elif size > file_limit_bytes and _is_picture(artifact.media_path):
            line += f" (sent smaller: the file is {_mib(size)}, over the limit here)"
        elif size > file_limit_bytes:
            line += f" (the file is {_mib(size)}, over the {_mib(file_limit_bytes)} limit here)"
        lines.append(line)
    return lines


def _artifact_files(artifact: MadeArtifact, file_limit_bytes: int) -> list[OutFile]:
    """The piece's file, and its preview picture where it has one (a clip's waveform); a
    picture over the limit goes as a smaller JPEG."""
    named = {"": artifact.media_path, "-preview": artifact.files.get("preview")}
    files = []
    for suffix, path in named.items():
        size = None if path is None else _size(path)
        if path is None or size is None:
            continue
        name = f"atelier-{artifact.number}{suffix}"
        if size <= file_limit_bytes:
            files.append(OutFile(name + path.suffix, path=path))
        elif _is_picture(path):
            files.append(OutFile(name + ".jpg", path=path, shrink_to=file_limit_bytes))
    return files


def _download_file(download: Download, file_limit_bytes: int) -> OutFile | str:
    """The file to attach, or the line that says why it is not attached."""
    size = _size(download.path)
    if size is None:
        return f"({download.filename} is missing on the server.)"
    if size > file_limit_bytes:
        return (
            f"({download.filename} is {_mib(size)}, over the {_mib(file_limit_bytes)} "
            "upload limit here, so it is not attached.)"
        )
    return OutFile(download.filename, path=download.path)


def _is_picture(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def _mib(size: int) -> str:
    return f"{size / MIB:.1f} MiB"


def _clip(line: str, limit: int) -> str:
    return line if len(line) <= limit else line[: limit - 1] + "…"


def split_text(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """`text` as parts of at most `limit` characters, split between lines and never inside a
    code block (a code block longer than `limit` is closed and reopened at each split)."""
    if len(text) <= limit:
        return [text] if text else []
    parts: list[str] = []
    current: list[str] = []
    size = 0
    for piece in _pieces(_blocks(text), limit):
        added = len(piece) + (1 if current else 0)
        if current and size + added > limit:
            parts.append("\n".join(current))
            current, size = [], 0
            added = len(piece)
        current.append(piece)
        size += added
    if current:
        parts.append("\n".join(current))
    return parts


def _blocks(text: str) -> list[_Block]:
    """Lines grouped into units that must not be split: a code block, or one plain line."""
    blocks: list[_Block] = []
    code: _Block | None = None
    for line in text.split("\n"):
        if code is not None:
            code.lines.append(line)
            if FENCE.match(line):
                blocks.append(code)
                code = None
        elif FENCE.match(line) and line.count("```") % 2 == 1:
            code = _Block([line], fence=line.strip())
        else:
            blocks.append(_Block([line]))
    if code is not None:  # an unclosed block runs to the end of the text
        blocks.append(code)
    return blocks


def _pieces(blocks: list[_Block], limit: int) -> list[str]:
    """Each block as one piece when it fits in a message, else cut into pieces that do."""
    pieces: list[str] = []
    for block in blocks:
        text = block.text
        if len(text) <= limit:
            pieces.append(text)
        elif block.fence is not None and len(block.fence) + len("\n\n```") < limit:
            pieces.extend(_cut_code(block, limit))
        else:  # a long line, or code whose opening fence alone fills a message
            pieces.extend(cut for line in block.lines for cut in _cut_line(line, limit))
    return pieces


def _cut_code(block: _Block, limit: int) -> list[str]:
    """A code block longer than a message: parts that each open and close the fence."""
    assert block.fence is not None
    opening = block.fence
    closed = len(block.lines) > 1 and FENCE.match(block.lines[-1]) is not None
    body = block.lines[1:-1] if closed else block.lines[1:]
    room = limit - len(opening) - len("\n\n```")
    parts: list[str] = []
    current: list[str] = []
    size = 0
    for line in (cut for whole in body for cut in _cut_hard(whole, room)):
        if current and size + len(line) + 1 > room:
            parts.append("\n".join([opening, *current, "```"]))
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
    parts.append("\n".join([opening, *current, "```"]))
    return parts


def _cut_hard(line: str, limit: int) -> list[str]:
    """Code keeps every character: a line too long is cut exactly at the limit."""
    return [line[start : start + limit] for start in range(0, len(line), limit)] or [""]


def _cut_line(line: str, limit: int) -> list[str]:
    """A line longer than `limit`: cut at the last space before the limit, else at it."""
    cuts: list[str] = []
    while len(line) > limit:
        at = line.rfind(" ", 0, limit + 1)
        at = at if at > 0 else limit
        cuts.append(line[:at])
        line = line[at:].lstrip(" ") if line[at : at + 1] == " " else line[at:]
    cuts.append(line)
    return cuts
