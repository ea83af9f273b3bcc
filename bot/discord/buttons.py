"""Buttons under a piece: Variation, Undo (a piece with a previous version), Revise, Critique,
Set to music (under a poem), Write a poem (under a picture), Keep.

Each button's custom id says everything needed to act on it, `atelier:<action>:<kind>:<#N>:
<requester's Discord id>`, so nothing is kept in memory per message and the buttons still work
after the bot restarts: one DynamicItem class, registered in setup_hook, matches them all.
What a press does lives in actions.py; this file only knows which buttons a piece gets:
those whose tool is registered (no Critique button without a critique tool), by kind.
The Cancel button under a progress message names the job it stops, `atelier:cancel:<job>`;
who may press it is the agent's to say (/cancel, agent/cancelling/).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import discord

from agent.types import Reply, RunningJob
from bot.discord.render import OutMessage
from tools.contract import ArtifactKind, Tool

VARY, REVISE, CRITIQUE, MUSIC, KEEP = "vary", "revise", "critique", "music", "keep"
UNDO, WRITE = "undo", "write"
LABELS = {
    VARY: "Variation",
    UNDO: "Undo",
    REVISE: "Revise",
    CRITIQUE: "Critique",
    MUSIC: "Set to music",
    WRITE: "Write a poem",
    KEEP: "Keep",
}
TEMPLATE = (
    r"atelier:(?P<action>vary|undo|revise|critique|music|write|keep)"
    r":(?P<kind>poem|image|music|critique):(?P<number>\d{1,19}):(?P<owner>\d{1,20})"
)


CANCEL_TEMPLATE = r"atelier:cancel:(?P<job>\d{1,19})"


class PieceActions(Protocol):
    async def pressed(self, interaction: discord.Interaction, button: PieceButton) -> None: ...

    async def cancel(self, interaction: discord.Interaction, job: int) -> None: ...


class HasPieceActions(Protocol):
    piece_actions: PieceActions


class PieceButton(discord.ui.DynamicItem[discord.ui.Button], template=TEMPLATE):  # type: ignore[type-arg]
    def __init__(self, action: str, kind: str, number: int, owner: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=LABELS[action],
                style=discord.ButtonStyle.success
                if action == KEEP
                else discord.ButtonStyle.secondary,
                custom_id=f"atelier:{action}:{kind}:{number}:{owner}",
            )
        )
        self.action = action
        self.kind = kind
        self.number = number
        self.owner = owner

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item,  # type: ignore[type-arg]
        match: object,
    ) -> PieceButton:
        groups = match.groupdict()  # type: ignore[attr-defined]
        return cls(groups["action"], groups["kind"], int(groups["number"]), int(groups["owner"]))

    async def callback(self, interaction: discord.Interaction) -> None:  # type: ignore[override]
        client: HasPieceActions = interaction.client  # type: ignore[assignment]
        await client.piece_actions.pressed(interaction, self)


def actions_for(kind: str, tools: Sequence[Tool], version: int = 1) -> list[str]:
    """The buttons a piece of `kind` (and `version` of its piece) gets, given the tools."""
    maker = next((tool for tool in tools if tool.kind.value == kind), None)
    kinds = {tool.kind.value for tool in tools}
    # A critique is words about a piece; a style is its weights, shown by /style list.
    if maker is None or kind in (ArtifactKind.CRITIQUE, ArtifactKind.STYLE):
        return []
    actions = [VARY] if maker.variation is not None else []
    if version > 1:  # a previous version to go back to (/undo)
        actions.append(UNDO)
    actions.append(REVISE)
    if ArtifactKind.CRITIQUE in kinds:
        actions.append(CRITIQUE)
    if kind == ArtifactKind.POEM and ArtifactKind.MUSIC in kinds:
        actions.append(MUSIC)
    if kind == ArtifactKind.IMAGE and _poet_from_picture(tools) is not None:
        actions.append(WRITE)
    actions.append(KEEP)
    return actions


def _poet_from_picture(tools: Sequence[Tool]) -> Tool | None:
    """The poem tool (the first registered, as presses use) when it writes from a picture."""
    poet = next((tool for tool in tools if tool.kind is ArtifactKind.POEM), None)
    return None if poet is None or poet.from_picture is None else poet


def message_buttons(
    out: OutMessage, reply: Reply, owner: int, tools: Sequence[Tool]
) -> list[PieceButton]:
    """The buttons under a message of `reply`: those of the first piece it shows (the piece
    itself; a grid's images follow it), or none for a message that shows none."""
    if not out.artifacts:
        return []
    number = out.artifacts[0]
    shown = next(artifact for artifact in reply.artifacts if artifact.number == number)
    return piece_buttons(shown.kind, number, owner, tools, version=shown.version)


def piece_buttons(
    kind: str, number: int, owner: int, tools: Sequence[Tool], *, version: int = 1
) -> list[PieceButton]:
    """The buttons under piece #number (none for a kind without them). They go in a
    persistent view (delivery.py): PieceButton's registration answers them, not the view."""
    actions = actions_for(kind, tools, version)
    return [PieceButton(action, kind, number, owner) for action in actions]


class CancelButton(discord.ui.DynamicItem[discord.ui.Button], template=CANCEL_TEMPLATE):  # type: ignore[type-arg]
    """Cancel, under the progress message of job N."""

    def __init__(self, job: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Cancel", style=discord.ButtonStyle.danger, custom_id=f"atelier:cancel:{job}"
            )
        )
        self.job = job

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item,  # type: ignore[type-arg]
        match: object,
    ) -> CancelButton:
        return cls(int(match.group("job")))  # type: ignore[attr-defined]

    async def callback(self, interaction: discord.Interaction) -> None:  # type: ignore[override]
        client: HasPieceActions = interaction.client  # type: ignore[assignment]
        await client.piece_actions.cancel(interaction, self.job)


def cancel_view(job: RunningJob) -> discord.ui.View:
    """The Cancel button of `job`, for the progress message (persistent, like a piece's)."""
    view = discord.ui.View(timeout=None)
    view.add_item(CancelButton(job.id))
    return view
