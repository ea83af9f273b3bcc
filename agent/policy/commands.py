"""/settings: a server's policy, seen and changed by its admins, every change audited.

A transport sends Command("settings", {"action": ..., typed fields}): show, history, or one
of the edits of edits.py (channels, buttons, blocklist, nsfw, block, unblock). Who may use it
is read from one typed field the transport sets from the platform's permissions,
`UserRef.manages_server`, never from words: the command's text is not read at all, and text a
model or another person wrote never becomes this command. Every answer is for the asker
alone; a change is stored with its audit row in one transaction, and a refusal changes
nothing.
"""

from __future__ import annotations

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.making.tool_args import explain
from agent.policy.edits import EDITS, Fields, SettingsRefused
from agent.policy.gate import Policies
from agent.policy.listing import history_text, policy_text, value_text
from agent.policy.store import change, policy_for_change, recent_changes, rules_of, server_rules
from agent.types import Command, Reply, Turn

SETTINGS_COMMAND = "settings"
ACTIONS = ("show", "history", *EDITS)
HISTORY_LINES = 10
IN_A_SERVER = "Server settings are made in a server: use /settings there."
ADMINS_ONLY = (
    "Only people with the Manage Server permission can see or change atelier's settings here. "
    "Nothing changed."
)
AT_ONCE = "Someone changed these settings at the same moment; nothing changed. Please try again."
LABELS = {
    "channels": "Answers in",
    "buttons": "Buttons under a piece",
    "blocklist": "Blocklist (on top of the operator's)",
    "nsfw": "Unfiltered images in age-restricted channels",
    "blocked_users": "Ignored",
}


class SettingsCommands:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], policies: Policies) -> None:
        self._sessions = sessions
        self._policies = policies

    async def run(self, turn: Turn) -> Reply:
        assert turn.command is not None
        guild = turn.place.guild_id
        if guild is None:
            return _private(IN_A_SERVER)
        if not turn.user.manages_server:
            return _private(ADMINS_ONLY)
        action = str(turn.command.args.get("action") or "show")
        try:
            if action == "show":
                return _private(await self._show(turn.platform, guild))
            if action == "history":
                return _private(await self._history(turn.platform, guild))
            return _private(await self._edit(turn, guild, action))
        except SettingsRefused as refused:
            return _private(str(refused))
        except IntegrityError:  # two first changes of one server raced: the other one won
            return _private(AT_ONCE)

    async def _show(self, platform: str, guild: str) -> str:
        async with self._sessions() as session:
            rules = await server_rules(session, platform, guild)
            last = await recent_changes(session, platform, guild, 1)
        return policy_text(platform, rules, last[0] if last else None)

    async def _history(self, platform: str, guild: str) -> str:
        async with self._sessions() as session:
            changes = await recent_changes(session, platform, guild, HISTORY_LINES)
        return history_text(platform, changes)

    async def _edit(self, turn: Turn, guild: str, action: str) -> str:
        assert turn.command is not None
        edit = EDITS.get(action)
        if edit is None:
            raise SettingsRefused(f"/settings takes {', '.join(ACTIONS)}.")
        fields = _validated(edit.fields, turn.command, action)
        async with self._sessions() as session, session.begin():
            row = await policy_for_change(session, turn.platform, guild)
            setting, new = edit.apply(row, fields)
            changed = change(session, row, setting, new, turn.user)
            rules = rules_of(row)
        self._policies.changed(turn.platform, guild, rules)
        value = value_text(turn.platform, setting, new)
        return f"{'Changed' if changed else 'Nothing changed'}. {LABELS[setting]}: {value}."


def _validated(model: type[Fields], command: Command, action: str) -> Fields:
    options = {key: value for key, value in command.args.items() if key != "action"}
    try:
        return model.model_validate(options)
    except ValidationError as error:
        raise SettingsRefused(f"/settings {action}: {explain(error)}") from None


def _private(text: str) -> Reply:
    return Reply(text, stored=False, private=True)
