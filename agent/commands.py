"""The commands that no creative tool runs, answered from a table: a command's name -> who
answers it. Agent.respond hands them here once the turn is admitted (agent/turns.py).

    before the server's /settings   /cancel (stopping one's own run is always allowed) and
                                    /settings (an admin's, in any channel)
    after them                      /session (agent/sessions/: its actions that make
                                    something are played with the turn's scope), /style
                                    list and delete (agent/styles/; /style train is the
                                    STYLE tool's run), /taste (agent/taste.py), /undo
                                    (agent/undo.py), and every
                                    other name: the account commands (agent/account.py: /help
                                    /history /forget /show /versions /diff /keep /export, or
                                    "Unknown command")
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.account import AccountCommands
from agent.cancelling.command import CANCEL_COMMAND, CancelCommands
from agent.config import Settings
from agent.making.studio import Studio
from agent.personal_export import PersonalExports
from agent.policy.commands import SETTINGS_COMMAND, SettingsCommands
from agent.policy.gate import Policies
from agent.policy.rules import PlaceRules
from agent.scope import Scopes
from agent.sessions.clock import SessionClock
from agent.sessions.commands import NO_SESSION, SESSION_COMMAND, SessionCommands
from agent.sessions.exporting import SessionExports
from agent.sessions.play import SessionPlay, makes_something
from agent.store.memory import Memory
from agent.styles.commands import STYLE_COMMAND, StyleCommands, answered_here
from agent.taste import TASTE_COMMAND, TasteCommands
from agent.types import Command, Reply, Turn
from agent.undo import UNDO_COMMAND, UndoCommands

Answer = Callable[[Turn], Awaitable[Reply]]
RuledAnswer = Callable[[Turn, PlaceRules], Awaitable[Reply]]  # with the place's rules


class Commands:
    def __init__(
        self,
        *,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        memory: Memory,
        studio: Studio,
        policy: Policies,
        scopes: Scopes,
        clock: SessionClock,
        play: SessionPlay,
        exports: SessionExports,
    ) -> None:
        self._studio = studio
        self._policy = policy
        self._scopes = scopes
        self._play = play
        self._group_sessions = SessionCommands(sessions, studio.media, clock, exports)
        personal = PersonalExports.in_data_dir(
            sessions, studio.media, settings.data_dir, file_limit_mb=settings.discord_file_limit_mb
        )
        tools = tuple(studio.tools.values())
        self._account = AccountCommands(sessions, memory, studio.media, personal, tools)
        self._before_rules: Mapping[str, Answer] = {
            CANCEL_COMMAND: CancelCommands(sessions, studio.running).run,
            SETTINGS_COMMAND: SettingsCommands(sessions, policy).run,
        }
        self._styles = StyleCommands(sessions, studio.media)
        self._taste = TasteCommands(sessions)
        self._undo = UndoCommands(sessions)
        self._after_rules: Mapping[str, RuledAnswer] = {
            SESSION_COMMAND: self._session,
            STYLE_COMMAND: self._style,
            TASTE_COMMAND: self._taste_command,
            UNDO_COMMAND: self._undo_command,
        }

    def handles(self, command: Command) -> bool:
        """Whether `command` is answered here rather than by a creative tool."""
        name = command.name
        if name == STYLE_COMMAND and not answered_here(command) and self._studio.handles(command):
            return False  # /style train: the STYLE tool's run (/style list, delete: here)
        tables = (self._before_rules, self._after_rules)
        return any(name in table for table in tables) or not self._studio.handles(command)

    async def answer(self, turn: Turn) -> Reply:
        """The command's answer; refused in one private line where the server's /settings
        leave the person or the channel out."""
        assert turn.command is not None
        name = turn.command.name
        if name in self._before_rules:
            return await self._before_rules[name](turn)
        rules = await self._policy.for_turn(turn)
        if isinstance(rules, str):  # a blocked person, a channel the server left out
            return Reply(rules, stored=False, private=True)
        return await self._after_rules.get(name, self._account_command)(turn, rules)

    async def _account_command(self, turn: Turn, rules: PlaceRules) -> Reply:
        return await self._account.run(turn)

    async def _style(self, turn: Turn, rules: PlaceRules) -> Reply:
        return await self._styles.run(turn)

    async def _taste_command(self, turn: Turn, rules: PlaceRules) -> Reply:
        return await self._taste.run(turn)

    async def _undo_command(self, turn: Turn, rules: PlaceRules) -> Reply:
        return await self._undo.run(turn)

    async def _session(self, turn: Turn, rules: PlaceRules) -> Reply:
        assert turn.command is not None
        if not makes_something(turn.command):
            return await self._group_sessions.run(turn)
        # The actions that make something (agent/sessions/play.py), with the turn's scope.
        scope = await self._scopes.resolve(turn, piece=None, uploads=(), window_tokens=None)
        if isinstance(scope, Reply):
            return scope
        scope = replace(scope, rules=rules)
        if scope.shared is None:
            return Reply(NO_SESSION, stored=False, private=True)
        return await self._play.command(turn, scope, turn.command, end=self._group_sessions.run)
