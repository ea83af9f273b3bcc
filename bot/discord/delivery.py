"""The one way a Reply reaches Discord: its rendered parts (render.py), each sent with its
buttons, then recorded, so that a reply to that message is about that piece
(Agent.record_delivery). A part's buttons are those of the piece it shows (buttons.py), a Vote
button per piece of the reply's ballot under the last part, and any the caller leads with (a
session's Join and Leave, session_buttons.py). A reply that ended a group session archives
its thread once it is posted.

Where a part goes differs (a channel message answering a person's message, an interaction's
follow-up, a post in a session's thread): each caller passes its own `SendPart`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any, Protocol

import discord

from agent.turns import Agent
from agent.types import Reply
from bot.discord.buttons import message_buttons
from bot.discord.outages import through_outages
from bot.discord.render import OutMessage
from bot.discord.session_buttons import vote_buttons

logger = logging.getLogger(__name__)

ROW_WIDTH = 5  # buttons in one row, Discord's limit

Item = discord.ui.Item[Any]


class SendPart(Protocol):
    async def __call__(self, out: OutMessage, view: discord.ui.View | None) -> discord.Message: ...


async def deliver(
    agent: Agent,
    reply: Reply,
    parts: Sequence[OutMessage],
    *,
    owner: int | None,
    send: SendPart,
    lead: Sequence[Item] = (),
) -> list[discord.Message]:
    """Send each part in order and return what was sent; raises discord.HTTPException as
    discord.py gives it up. `owner` may press the pieces' buttons; None (a reply nobody
    asked for, an announcement) gives the pieces none. `lead` goes under the first part."""
    sent = []
    for index, out in enumerate(parts):
        items = list(lead) if index == 0 else []
        if owner is not None:
            items += message_buttons(out, reply, owner, agent.tools)
        if index == len(parts) - 1:
            items += vote_buttons(reply.ballot, first_row=math.ceil(len(items) / ROW_WIDTH))
        view = persistent_view(items)
        message = await through_outages(lambda: send(out, view))  # noqa: B023 - awaited here
        sent.append(message)
        if out.artifacts:
            await agent.record_delivery(str(message.id), out.artifacts)
    return sent


def persistent_view(items: Sequence[Item]) -> discord.ui.View | None:
    """A view with no timeout, or None for no buttons. Its buttons are answered by their
    DynamicItem registrations (client.py), so they work after a restart too."""
    if not items:
        return None
    view = discord.ui.View(timeout=None)
    for item in items:
        view.add_item(item)
    return view


async def archive_if_ended(channel: object, reply: Reply) -> None:
    """Archive the session's thread once the reply that ended the session is in it: it leaves
    the channel list, and its history stays readable. Only a courtesy: a thread the bot did
    not open needs Manage Threads, and a refusal leaves the (ended) session's thread open."""
    if not reply.session_ended or not isinstance(channel, discord.Thread) or channel.archived:
        return
    try:
        await channel.edit(archived=True)
    except discord.HTTPException as error:
        logger.warning("archiving thread %s failed: %s", channel.id, error)


def with_view(view: discord.ui.View | None) -> dict[str, discord.ui.View]:
    """discord.py takes no `view=None` on some sends: leave the key out instead."""
    return {} if view is None else {"view": view}
