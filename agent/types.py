"""The contract between transports (console, Discord) and the agent: Turn in, Reply out.

Transports translate platform events into these plain values and render Replies back;
nothing here knows about discord.py, the terminal or the database.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

ProgressSink = Callable[[float, str], None]
# Called on the event loop with a chat reply's text so far, as the chat model writes it.
TextSink = Callable[[str], None]


@dataclass(frozen=True)
class RunningJob:
    """A tool run a turn started, for a transport to offer stopping it: Command("cancel",
    {"job": id}) (agent/cancelling/)."""

    id: int
    tool: str


@runtime_checkable
class ShowsJobs(Protocol):
    """A progress sink that is also told the job it reports on, so it can offer to cancel it
    (Discord's Cancel button under the progress message)."""

    def __call__(self, fraction: float, label: str) -> None: ...

    def job_started(self, job: RunningJob) -> None: ...


@dataclass(frozen=True)
class UserRef:
    """Who is speaking, as the platform knows them."""

    external_id: str
    display_name: str
    # Set by the transport from the platform's permission bits for this member where the
    # turn happens (Discord's Manage Server): who may change the server's /settings. Never
    # read from words, so no text can grant it.
    manages_server: bool = False


@dataclass(frozen=True)
class Place:
    """Where a turn happens. A DM has no guild; a group session is named by its channel/thread."""

    channel_id: str | None = None
    guild_id: str | None = None
    thread_id: str | None = None
    is_direct: bool = True
    # The channel is age-restricted (Discord's nsfw flag): where a server may allow
    # unfiltered images (agent/policy/).
    age_restricted: bool = False


@dataclass(frozen=True)
class Attachment:
    filename: str
    mime_type: str
    data: bytes


@dataclass(frozen=True)
class Command:
    """An explicit command (slash command, button, modal, `/name ...` in the console).

    `args` holds its options as typed fields ({"mode": "vary", "piece": 12}; a console's
    key=value strings are validated by the tool's Args like any other); `text` is the free
    text that followed them, the only part that is read as words.
    """

    name: str
    args: Mapping[str, Any] = field(default_factory=dict)
    text: str = ""


@dataclass(frozen=True)
class Turn:
    platform: str
    user: UserRef
    place: Place
    text: str = ""
    attachments: tuple[Attachment, ...] = ()
    reply_to: str | None = None  # platform id of the message this one answers
    command: Command | None = None
    # Called on the event loop with (fraction 0-1, short label) while a tool works.
    progress: ProgressSink | None = field(default=None, compare=False, repr=False)
    # Where a chat reply is shown as it is written (Discord edits its message); the Reply
    # still carries the whole text, stored once at the end.
    stream: TextSink | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class MadeArtifact:
    """A new artifact in a reply, for the transport to show (and attach its file)."""

    number: int
    kind: str
    line: str  # "#N kind <the first line of its text, or what it was asked as>"; no path
    media_path: Path | None = None
    files: Mapping[str, Path] = field(default_factory=dict)  # kept beside it: "preview" ...
    version: int = 1  # of its piece: above 1, /undo can go back (Discord's Undo button)


@dataclass(frozen=True)
class Reply:
    text: str
    artifacts: tuple[MadeArtifact, ...] = ()
    # False when nothing of the turn was stored (empty or refused input, a failure).
    stored: bool = True
    # Meant for the asker alone (a refusal of a host control): Discord answers ephemerally.
    private: bool = False
    # Pieces open to a vote (a round's candidates): a transport offers a vote on each, sent
    # back as Command("session", {"action": "vote", "piece": N}).
    ballot: tuple[int, ...] = ()
    # A file for the transport to hand over (a session's export zip), named as it should be.
    download: Download | None = None
    # The group session at this place ended with this reply: a transport may archive it.
    session_ended: bool = False


@dataclass(frozen=True)
class Download:
    path: Path
    filename: str


# What the agent says unprompted at a place (a relay turn passed on, a round closed at its
# deadline): a transport registers one per platform (Agent.announce_with).
Announce = Callable[[Place, Reply], Awaitable[None]]
