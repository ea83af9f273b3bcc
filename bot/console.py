"""The terminal transport: an interactive REPL, or one message per stdin line when piped.

Piped mode prints each reply followed by one blank line (blank lines inside a reply are folded),
so conversations can be scripted:
    printf 'hello\n/history\n' | atelier chat --user ada

Lines are read on while a turn runs: `/cancel` is answered at once (it stops what the person
has in the works, agent/cancelling/), and every other line waits for its turn, in order.
"""

from __future__ import annotations

import asyncio
import io
import re
import sys
from collections import deque
from collections.abc import Awaitable
from typing import TextIO

from agent.cancelling.command import CANCEL_COMMAND
from agent.sessions.commands import SESSION_COMMAND
from agent.styles.commands import STYLE_ACTIONS, STYLE_COMMAND
from agent.turns import Agent
from agent.types import Command, Place, Reply, Turn, UserRef

PLATFORM = "console"
PLACE = Place(is_direct=True)
OPTION = re.compile(r"^(\w+)=(\S+)$")
BLANK_LINES = re.compile(r"\n\s*\n")
MAX_NAME = 64
CONSOLE_HELP = "; /as NAME: speak as someone else; /quit: leave (or Ctrl-D)"


def parse_command(line: str) -> Command:
    """`/name key=value ... free text` -> Command; options stop at the first plain word.
    /session's and /style's first word is its action: `/session join`, `/style list`."""
    head, _, rest = line[1:].partition(" ")
    words = rest.split()
    args: dict[str, str] = {}
    if words and _leads_with_action(head.lower(), words[0].lower()):
        args["action"] = words.pop(0).lower()  # `/session start mode=relay a night market`
    while words and (match := OPTION.match(words[0])):
        args[match.group(1)] = match.group(2)
        words.pop(0)
    return Command(name=head.lower(), args=args, text=" ".join(words))


def _leads_with_action(name: str, word: str) -> bool:
    """/session's first word is always its action; /style's when it names one (`/style
    name=ink` is the STYLE tool's own command)."""
    return name == SESSION_COMMAND or (name == STYLE_COMMAND and word in STYLE_ACTIONS)


def render(reply: Reply) -> str:
    """The reply's text, then each new piece on its own line: `#N kind <first line>`, and for
    a file the place it was saved. The terminal runs on the operator's own machine, so the
    path is how its person opens the picture or the clip; no other transport shows one."""
    lines = [reply.text] if reply.text else []
    for artifact in reply.artifacts:
        saved = f" (saved as {artifact.media_path})" if artifact.media_path else ""
        lines.append(artifact.line + saved)
    if reply.ballot:
        lines.append("Vote: " + ", ".join(f"/session vote #{n}" for n in reply.ballot))
    if reply.download is not None:
        lines.append(f"{reply.download.filename} (saved as {reply.download.path})")
    return "\n".join(lines)


def _quits(line: str | None) -> bool:
    return line is not None and line.strip() in {"/quit", "/exit"}


def _cancel_in(line: str | None) -> Command | None:
    """The /cancel a line is, if it is one."""
    if line is None or not line.startswith("/"):
        return None
    command = parse_command(line.strip())
    return command if command.name == CANCEL_COMMAND else None


def _forgiving(stream: TextIO) -> TextIO:
    """`stream` reading a byte that is not UTF-8 (a Latin-1 file piped in) as U+FFFD, and
    writing what the terminal cannot show as '?': strict decoding would raise out of
    readline() and end the console, and the lines after it would never be answered."""
    if isinstance(stream, io.TextIOWrapper):  # sys.stdin and sys.stdout, which input() uses
        stream.reconfigure(errors="replace")
    return stream


class ConsoleChat:
    def __init__(
        self,
        agent: Agent,
        *,
        user: str,
        interactive: bool,
        stdin: TextIO = sys.stdin,
        stdout: TextIO = sys.stdout,
    ) -> None:
        self._agent = agent
        self._user = user
        self._interactive = interactive
        self._stdin = _forgiving(stdin)
        self._stdout = _forgiving(stdout)
        # Lines read while a turn ran, for after it (None: the input ended then).
        self._held: deque[str | None] = deque()
        self._reading: asyncio.Task[str | None] | None = None  # one read in flight at most

    async def run(self) -> None:
        # A relay turn passed on, a round closed at its deadline: printed as they happen.
        self._agent.announce_with(PLATFORM, self._announce)
        while (line := await self._read(f"{self._user}> ")) is not None:
            line = line.rstrip("\n")
            if _quits(line):
                break
            reply = await self._handle(line)
            self._write(reply)

    async def _handle(self, line: str) -> str:
        if not line.startswith("/"):
            return render(await self._reading_on(self._agent.respond(self._turn(text=line))))
        command = parse_command(line)
        if command.name == "as":
            return self._switch_user(command.text)
        if command.name == "forget" and self._interactive and not command.text:
            command = await self._confirm_forget(command)
        reply = await self._reading_on(self._agent.respond(self._turn(command=command)))
        return render(reply) + (CONSOLE_HELP if command.name == "help" else "")

    async def _reading_on(self, answer: Awaitable[Reply]) -> Reply:
        """The turn's reply; meanwhile lines are read on: `/cancel` is answered at once,
        the rest are held for after it. Reading stops at the end of the input or a /quit."""
        turn = asyncio.ensure_future(answer)
        while not turn.done():
            if self._held and (self._held[-1] is None or _quits(self._held[-1])):
                return await turn
            reading = self._read_ahead()
            await asyncio.wait({turn, reading}, return_when=asyncio.FIRST_COMPLETED)
            if not reading.done():
                break  # the read stays in flight: it is the next line
            self._reading = None
            line = reading.result()
            if (cancel := _cancel_in(line)) is not None:
                self._write(render(await self._agent.respond(self._turn(command=cancel))))
            else:
                self._held.append(line)
        return await turn

    def _read_ahead(self) -> asyncio.Task[str | None]:
        if self._reading is None:
            self._reading = asyncio.create_task(self._read_line(f"{self._user}> "))
        return self._reading

    async def _announce(self, place: Place, reply: Reply) -> None:
        self._write(render(reply))

    def _switch_user(self, name: str) -> str:
        name = name.strip()
        if not name or len(name) > MAX_NAME:
            return f"Usage: /as NAME (1 to {MAX_NAME} characters)"
        self._user = name
        return f"Now speaking as {name}."

    async def _confirm_forget(self, command: Command) -> Command:
        answer = await self._read(f"Delete all of {self._user}'s conversations? [y/N] ")
        confirmed = (answer or "").strip().lower() in {"y", "yes"}
        return Command(name="forget", args=command.args, text="yes" if confirmed else "")

    def _turn(self, *, text: str = "", command: Command | None = None) -> Turn:
        user = UserRef(external_id=self._user, display_name=self._user)
        # Progress only on a terminal: piped output stays one reply per blank-line block.
        progress = self._show_progress if self._interactive else None
        return Turn(PLATFORM, user, PLACE, text, command=command, progress=progress)

    def _show_progress(self, fraction: float, label: str) -> None:
        self._stdout.write(f"  ... {label} ({fraction:.0%})\n")
        self._stdout.flush()

    async def _read(self, prompt: str) -> str | None:
        """The next line: one held from while a turn ran, the read in flight, or a new one."""
        if self._held:
            return self._held.popleft()
        if self._reading is not None:
            reading, self._reading = self._reading, None
            return await reading
        return await self._read_line(prompt)

    async def _read_line(self, prompt: str) -> str | None:
        # Reading blocks, so it happens in a thread: the event loop stays free.
        if self._interactive:
            try:
                return await asyncio.to_thread(input, prompt)
            except EOFError:
                return None
        line = await asyncio.to_thread(self._stdin.readline)
        return line or None

    def _write(self, text: str) -> None:
        if not self._interactive:
            # A blank line ends each reply, so blank lines inside one are folded away.
            text = BLANK_LINES.sub("\n", text.strip())
        self._stdout.write(text + "\n" + ("" if self._interactive else "\n"))
        self._stdout.flush()
