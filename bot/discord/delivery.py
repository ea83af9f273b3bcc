"""The one way a Reply reaches Discord: its rendered parts (render.py), each sent with the
buttons of the piece it shows (buttons.py), then recorded, so that a reply to that message is
about that piece (Agent.record_delivery).

Where a part goes differs (a channel message answering a person's message, an interaction's
follow-up, a late answer posted to the channel): each caller passes its own `SendPart`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import discord

from agent.turns import Agent
from agent.types import Reply
from bot.discord.buttons import message_buttons
from bot.discord.render import OutMessage


class SendPart(Protocol):
    async def __call__(self, out: OutMessage, view: discord.ui.View | None) -> discord.Message: ...


async def deliver(
    agent: Agent, reply: Reply, parts: Sequence[OutMessage], *, owner: int, send: SendPart
) -> None:
    """Send each part in order; raises discord.HTTPException as discord.py gives it up."""
    for out in parts:
        view = message_buttons(out, reply, owner, agent.tools)
        sent = await send(out, view)
        if out.artifacts:
            await agent.record_delivery(str(sent.id), out.artifacts)


def with_view(view: discord.ui.View | None) -> dict[str, discord.ui.View]:
    """discord.py takes no `view=None` on some sends: leave the key out instead."""
    return {} if view is None else {"view": view}
