"""The tool contract: what every creative tool declares, receives and returns.

A tool is a plain function of validated arguments and a context. It runs in a worker thread
(never on the event loop), reports progress through the context, checks the cancellation flag
between steps, and returns an `ArtifactDraft`: what it made, and the parameters that would
make it again. The agent stores the draft; the transport shows it. A tool never sees who asked
or in which conversation: the agent keeps those and attaches them when it stores the draft.

Adding a tool: one folder in tools/ whose tool.py defines its `Args` model, its run function
and a `Tool` (its free-text rules in intents.py beside it), plus one line in tools/lineup.py.
"""

from __future__ import annotations

import enum
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tools.catalog import ToolInfo
from tools.scheduling.lane import ALONE, Lane
from tools.scheduling.work import Item, Result, Work


class ArtifactKind(enum.StrEnum):
    POEM = "poem"
    IMAGE = "image"
    MUSIC = "music"
    CRITIQUE = "critique"
    # A person's own style, trained on their pictures: its files are the LoRA weights.
    STYLE = "style"


# How a message names a piece: "#12" (not "x#12", not "##12"), also between Chinese characters
# ("请评价#5的构图": Python's \w matches them, so the bounds are ASCII). Up to 12 digits, so a
# number too large to exist still reads as a number and is answered "no such piece".
PIECE_MENTION = re.compile(r"(?<![A-Za-z0-9_#])#(\d{1,12})(?!\d)")
# Piece numbers are database ids; PostgreSQL's INTEGER ends here, so a larger #N names nothing.
MAX_PIECE_NUMBER = 2**31 - 1


class ToolArgs(BaseModel):
    """Base of every tool's `Args`: unknown keys are an error, never silently dropped."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # The piece to build on, as a number: a button's or a slash option's own field, or the #N
    # the agent read from free text. The agent resolves it to `ToolContext.focus`; without it
    # the focus is the piece replied to, else the latest.
    piece: int | None = Field(
        None, ge=1, le=MAX_PIECE_NUMBER, description="the piece to build on, as #N names it"
    )

    @field_validator("piece", mode="before")
    @classmethod
    def _number_of(cls, value: Any) -> Any:
        return piece_number_as_typed(value)


def piece_number_as_typed(value: Any) -> Any:
    """A piece number as a person types it in an option ("#12", " 12") ready for int
    validation; anything else (12 from a button, None) as it is."""
    return value.strip().removeprefix("#") if isinstance(value, str) else value


@dataclass(frozen=True)
class Media:
    data: bytes
    mime_type: str


@dataclass(frozen=True)
class ArtifactDraft:
    kind: ArtifactKind
    text: str | None = None
    media: Media | None = None
    # What reproduces it: model id, seed, steps, form ... (stored as JSON).
    params: Mapping[str, Any] = field(default_factory=dict)
    # True when made from the piece in focus: a revision or variation of the same kind joins
    # that piece's version tree; another kind (music for a poem, a critique) starts its own
    # tree with the focus as its parent. A new piece on its own leaves it False.
    from_focus: bool = False
    # With from_focus: True when the piece in focus was only this one's source, so a piece of
    # the same kind is a new piece "made from #N", not a version of it (a picture in the
    # style of a reference picture).
    focus_is_source: bool = False
    # One line for the person about what was made: the form it met, what changed ...
    note: str | None = None
    # Files that belong to the piece without being it, by name (a clip's "wav" and
    # "preview"): kept beside its media, offered to tools as FocusArtifact.files.
    files: Mapping[str, Media] = field(default_factory=dict)
    # Pieces made in the same run that each stand on their own (the single images shown
    # together in a grid): each is stored as its own artifact, listed after this one.
    parts: tuple[ArtifactDraft, ...] = ()

    def __post_init__(self) -> None:
        if self.text is None and self.media is None:
            raise ValueError("an artifact needs text, media, or both")


@dataclass(frozen=True)
class FocusArtifact:
    """The piece a turn is about (replied to, named as #N, or the latest), as a tool sees it."""

    number: int
    kind: ArtifactKind
    prompt: str
    text: str | None
    media_path: Path | None
    mime_type: str | None
    params: Mapping[str, Any]
    files: Mapping[str, Path] = field(default_factory=dict)  # ArtifactDraft.files, on disk


class UploadRejected(ValueError):
    """An uploaded file a tool cannot use. The message is one line for the person who sent it."""


@dataclass(frozen=True)
class UploadReader:
    """How a tool takes a file someone uploads (an image to vary, a clip to extend).

    `read` checks the bytes (decodable, within size limits) and returns what to keep, often
    re-encoded (an image as PNG); it raises UploadRejected with a message for the person.
    The agent keeps what it returns as an artifact of the tool's kind, made by that person,
    which becomes the piece in focus for the turn.
    """

    mime_types: tuple[str, ...]  # e.g. ("image/png", "image/jpeg")
    read: Callable[[bytes], Media]


class ToolRefused(Exception):
    """A request the tool will not carry out (a blocked prompt, nothing to extend). The
    message is one line for the person; nothing is stored."""


class Cancelled(Exception):
    """Raised by a tool (through `ToolContext.check`) when its run was called off."""


Progress = Callable[[float, str], None]


def no_progress(_fraction: float, _label: str) -> None:
    return None


def in_style(text: str, style: str | None) -> str:
    """`text` with a session's shared style added (once), as the last words of a prompt."""
    if not style or style.lower() in text.lower():
        return text
    return f"{text}, {style}" if text.strip() else style


def reads_no_words(_text: str) -> Mapping[str, Any]:
    """For tools whose free text is only their text argument."""
    return {}


class ModelSource(Protocol):
    """Hands a tool the model of one of its roles, loading it on first use
    (tools/models/registry.py)."""

    def get(self, role: str) -> Any: ...


class NoModels:
    """For tools that need no model."""

    def get(self, role: str) -> Any:
        raise LookupError(f"this tool was given no models, so none for role {role!r}")


@dataclass(frozen=True)
class ToolContext:
    models: ModelSource = field(default_factory=NoModels)
    settings: Mapping[str, Any] = field(default_factory=dict)
    progress: Progress = no_progress
    cancelled: threading.Event = field(default_factory=threading.Event)
    focus: FocusArtifact | None = None
    # The params of pieces of this kind the person kept (/keep), newest first: their taste.
    kept: tuple[Mapping[str, Any], ...] = ()
    # A group session's shared style: every new piece made in the session follows it.
    style: str | None = None
    # Pieces the run draws on besides the focus, as the Args name them (a style's training
    # pictures: `from_pieces`), each checked by the agent to be the person's own.
    sources: tuple[FocusArtifact, ...] = ()
    # The person's own trained style the Args name by name (`style_name`): a STYLE piece
    # whose files hold its weights; None when none is asked for.
    personal_style: FocusArtifact | None = None
    # The person's own poems, newest first, when the Args ask for their voice: examples for
    # the poem model (never anyone else's).
    voice: tuple[str, ...] = ()
    # Where model work goes (tools/scheduling/): batched with other people's by the agent's
    # scheduler; ALONE runs it at once, here.
    lane: Lane = ALONE

    def check(self) -> None:
        """Stop here if the run was cancelled (timed out, or the bot is shutting down)."""
        if self.cancelled.is_set():
            raise Cancelled()

    def schedule(self, work: Work[Item, Result]) -> Result:
        """Run model work through the lane: its result, or its error (Cancelled included)."""
        return self.lane.run(work, self.progress, self.check)


@dataclass(frozen=True)
class Tool:
    name: str  # also the explicit command: /name key=value ... text
    description: str  # one line, shown to the chat model when it chooses a tool
    kind: ArtifactKind
    args: type[ToolArgs]
    run: Callable[[Any, ToolContext], ArtifactDraft]
    # The argument that takes the free text of an explicit command or a request.
    text_arg: str | None = "prompt"
    timeout_s: float = 300.0
    # Requests it serves, shown with the description when a small model routes (tools/catalog.py).
    examples: tuple[str, ...] = ()
    # More descriptions with examples, under this tool's name, for requests the main one does
    # not draw (a poem set to music reads like a poem request): each is a routing choice.
    also_serves: tuple[ToolInfo, ...] = ()
    # Files people may upload for this tool to work on; None: it takes none.
    uploads: UploadReader | None = None
    # Args that revise the piece in focus by an instruction ("make it darker", or a
    # critique's suggestion); None: this tool cannot revise its pieces.
    revision: Callable[[str], ToolArgs] | None = None
    # The Args fields that ask for another take of the piece in focus (the Variation button
    # sends them, with the piece's number); None: the tool offers no variation.
    variation: Mapping[str, Any] | None = None
    # The fields that make a piece of this tool from the poem in focus (music set to it, a
    # picture of it), sent with the poem's number; None: the tool makes nothing from a poem.
    from_poem: Mapping[str, Any] | None = None
    # The fields that make a piece of this tool from the picture in focus (a poem about it,
    # music for it), sent with the picture's number; None: the tool makes nothing from one.
    from_picture: Mapping[str, Any] | None = None
    # The tool's free-text rules, its one reader of words (tools/<medium>/intents.py): the
    # Args fields a request's own words set ({"mode": "vary"}). Only free text is read;
    # buttons and options arrive as fields, and explicit options win over what words say.
    reads: Callable[[str], Mapping[str, Any]] = reads_no_words

    def __post_init__(self) -> None:
        if self.text_arg is not None and self.text_arg not in self.args.model_fields:
            raise ValueError(f"tool {self.name!r}: text_arg {self.text_arg!r} is not in its Args")

    @property
    def info(self) -> ToolInfo:
        return ToolInfo(self.name, self.description, self.examples)
