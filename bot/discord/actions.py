"""What pressing a button under a piece does: an agent turn with an explicit Command.

Every press is a Command with typed fields, never words for a tool to read back. Variation
sends the fields the piece's tool declares for another take (Tool.variation) with piece N;
Set to music the music tool's fields for a piece made from a poem (Tool.from_poem), Write a
poem the poem tool's fields for one made from a picture (Tool.from_picture), and Critique
the critique tool, each with piece N; Revise opens a modal for the instruction and uses the
tool's own `revision` args (the instruction and its mode) with piece N; Keep is /keep with
piece N; Undo is /undo with piece N (its previous version becomes the focus again).

Only the person who asked for the piece may press its buttons, unless the server's /settings
say everyone may (or leave it to the operator's `discord_buttons_for_everyone`, and that is
on): then others' presses act on the piece in its requester's conversation (where it lives),
except Keep (it steers the requester's taste), Undo (it moves the requester's focus) and
Revise (its instruction is the presser's own words, acting on someone else's piece), which
stay the requester's. Others get a refusal only they see.
"""

from __future__ import annotations

from collections.abc import Sequence

import discord
from pydantic import ValidationError

from agent.cancelling.command import CANCEL_COMMAND
from agent.types import Command, UserRef
from agent.undo import UNDO_COMMAND
from bot.discord.buttons import CRITIQUE, KEEP, MUSIC, REVISE, UNDO, VARY, WRITE, PieceButton
from bot.discord.interactions import InteractionTurns
from tools.contract import ArtifactKind, Tool

INSTRUCTION_LIMIT = 500


class ButtonActions:
    def __init__(
        self,
        client: discord.Client,
        turns: InteractionTurns,
        tools: Sequence[Tool],
        *,
        everyone: bool,  # the operator's default; a server's /settings may say otherwise
    ) -> None:
        self._client = client
        self._turns = turns
        self._tools = {tool.kind.value: tool for tool in reversed(tools)}  # first one wins
        self._everyone = everyone

    async def pressed(self, interaction: discord.Interaction, button: PieceButton) -> None:
        rules = await self._turns.server_rules(interaction)
        everyone = rules.everyone_presses(self._everyone)
        if not may_press(interaction.user.id, button, everyone=everyone):
            await self._turns.refuse(
                interaction,
                f"Only the person who asked for #{button.number} can use its buttons"
                + (" (Keep and Revise are always theirs)." if everyone else "."),
            )
            return
        if button.action == REVISE:
            await interaction.response.send_modal(ReviseModal(self, button))
            return
        command = self._command(button)
        if command is None:
            await self._turns.refuse(interaction, "That tool is not available here any more.")
            return
        await self._run(interaction, button, command)

    async def cancel(self, interaction: discord.Interaction, job: int) -> None:
        """Cancel under a progress message: /cancel job=N, answered to the presser alone
        (the agent says whether they may: the requester, or the session's host)."""
        command = Command(CANCEL_COMMAND, {"job": job})
        await self._turns.run(interaction, command, what="cancel", private=True, counted=False)

    async def revise(
        self, interaction: discord.Interaction, button: PieceButton, instruction: str
    ) -> None:
        tool = self._tools.get(button.kind)
        if tool is None:
            await self._turns.refuse(interaction, "That tool is not available here any more.")
            return
        try:
            command = revision_command(tool, button.number, instruction)
        except (ValidationError, ValueError) as problem:
            await self._turns.refuse(interaction, f"I can't revise with that: {_first(problem)}")
            return
        await self._run(interaction, button, command)

    async def _run(
        self, interaction: discord.Interaction, button: PieceButton, command: Command
    ) -> None:
        try:
            as_user = await self._requester(interaction, button)
        except discord.HTTPException:
            await self._turns.refuse(interaction, "I could not look up who asked for that piece.")
            return
        what = f"{LABELS_DOING[button.action]} #{button.number}"
        await self._turns.run(
            interaction, command, what=what, private=button.action in {KEEP, UNDO}, as_user=as_user
        )

    async def _requester(
        self, interaction: discord.Interaction, button: PieceButton
    ) -> UserRef | None:
        """None when the presser asked for the piece; else its requester, in whose
        conversation the piece lives (the everyone setting)."""
        if interaction.user.id == button.owner:
            return None
        user = self._client.get_user(button.owner) or await self._client.fetch_user(button.owner)
        return UserRef(str(user.id), user.display_name)

    def _command(self, button: PieceButton) -> Command | None:
        piece = {"piece": button.number}
        if button.action == KEEP:
            return Command("keep", piece)
        if button.action == UNDO:
            return Command(UNDO_COMMAND, piece)
        if button.action == VARY:
            tool = self._tools.get(button.kind)
            if tool is None or tool.variation is None:
                return None
            return Command(tool.name, {**tool.variation, **piece})
        if button.action == CRITIQUE:
            tool = self._tools.get(ArtifactKind.CRITIQUE.value)
            return None if tool is None else Command(tool.name, piece)
        if button.action == MUSIC:
            tool = self._tools.get(ArtifactKind.MUSIC.value)
            if tool is None or tool.from_poem is None:
                return None
            return Command(tool.name, {**tool.from_poem, **piece})
        if button.action == WRITE:
            tool = self._tools.get(ArtifactKind.POEM.value)
            if tool is None or tool.from_picture is None:
                return None
            return Command(tool.name, {**tool.from_picture, **piece})
        return None


# Always the requester's, whoever else may press: Keep steers their taste, and Revise carries
# the presser's own words onto their piece (another person's text must never act on it).
PERSONAL = frozenset({KEEP, REVISE, UNDO})


def may_press(user_id: int, button: PieceButton, *, everyone: bool) -> bool:
    if user_id == button.owner:
        return True
    return everyone and button.action not in PERSONAL


LABELS_DOING = {
    VARY: "variation of",
    REVISE: "revision of",
    CRITIQUE: "critique of",
    MUSIC: "music for",
    WRITE: "a poem about",
    KEEP: "keeping",
    UNDO: "going back from",
}


def revision_command(tool: Tool, number: int, instruction: str) -> Command:
    """/<tool> with the fields that revise piece #number by `instruction` (Tool.revision)."""
    instruction = instruction.strip()
    if not instruction:
        raise ValueError("say what should change")
    if tool.revision is None:
        raise ValueError(f"the {tool.name} tool cannot revise its pieces")
    fields = tool.revision(instruction).model_dump(exclude_none=True, exclude_defaults=True)
    return Command(tool.name, {**fields, "piece": number})


def _first(problem: Exception) -> str:
    if isinstance(problem, ValidationError):
        errors = problem.errors(include_url=False)
        return str(errors[0]["msg"]) if errors else "it was not accepted"
    return str(problem)


class ReviseModal(discord.ui.Modal):
    """Asks what should change; submitting it runs the revision."""

    instruction: discord.ui.TextInput[ReviseModal] = discord.ui.TextInput(
        label="What should change?",
        style=discord.TextStyle.paragraph,
        placeholder="make it darker; add a stanza about the sea; fewer clouds",
        max_length=INSTRUCTION_LIMIT,
    )

    def __init__(self, actions: ButtonActions, button: PieceButton) -> None:
        # A modal lives in memory only until submitted or abandoned (15 minutes).
        super().__init__(title=f"Revise #{button.number}", timeout=15 * 60)
        self._actions = actions
        self._button = button

    async def on_submit(self, interaction: discord.Interaction) -> None:  # type: ignore[override]
        await self._actions.revise(interaction, self._button, self.instruction.value)
