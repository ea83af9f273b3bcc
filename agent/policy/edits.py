"""What each /settings change asks for, as typed fields, and the new value it makes.

Each edit reads only its validated fields and the server's current row; it returns the
setting it changes and that setting's new value (a new list, never the old one changed), or
raises SettingsRefused with one line for the admin.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from agent.policy.models import ServerPolicy
from agent.policy.words import BadTerm, terms_in

MAX_CHANNELS = 50
MAX_TERMS = 100
MAX_BLOCKED = 500
# A platform's id for a channel or a person (Discord's are digits).
PlatformId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Change = Literal["add", "remove", "clear"]


class SettingsRefused(Exception):
    """A /settings request that changes nothing; the message is one line for the admin."""


class Fields(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChannelsFields(Fields):
    change: Change = Field(description="add or remove a channel, or clear the list (every one)")
    channel: PlatformId | None = Field(None, description="the channel, for add and remove")


class ButtonsFields(Fields):
    who: Literal["requester", "everyone", "default"] = Field(
        description="who may press a piece's buttons; default: as the operator set it"
    )


class BlocklistFields(Fields):
    change: Change = Field(description="add or remove words, or clear the list")
    words: str | None = Field(None, max_length=1000, description="comma-separated words")


class NsfwFields(Fields):
    allow: bool = Field(description="allow unfiltered images in age-restricted channels")


class PersonFields(Fields):
    user: PlatformId = Field(description="the person")


def channels(row: ServerPolicy, fields: ChannelsFields) -> tuple[str, Any]:
    if fields.change == "clear":
        return "channels", []
    if fields.channel is None:
        raise SettingsRefused(f"/settings channels {fields.change}: which channel?")
    return "channels", _changed_list(row.channels, [fields.channel], fields.change, MAX_CHANNELS)


def buttons(row: ServerPolicy, fields: ButtonsFields) -> tuple[str, Any]:
    return "buttons", None if fields.who == "default" else fields.who


def blocklist(row: ServerPolicy, fields: BlocklistFields) -> tuple[str, Any]:
    if fields.change == "clear":
        return "blocklist", []
    try:
        terms = terms_in(fields.words or "")
    except BadTerm as bad:
        raise SettingsRefused(f"/settings blocklist: {bad}.") from None
    if not terms:
        raise SettingsRefused(f"/settings blocklist {fields.change}: which words?")
    return "blocklist", _changed_list(row.blocklist, list(terms), fields.change, MAX_TERMS)


def nsfw(row: ServerPolicy, fields: NsfwFields) -> tuple[str, Any]:
    return "nsfw", fields.allow


def block(row: ServerPolicy, fields: PersonFields) -> tuple[str, Any]:
    return "blocked_users", _changed_list(row.blocked_users, [fields.user], "add", MAX_BLOCKED)


def unblock(row: ServerPolicy, fields: PersonFields) -> tuple[str, Any]:
    return "blocked_users", _changed_list(row.blocked_users, [fields.user], "remove", MAX_BLOCKED)


def _changed_list(current: list[str], items: list[str], change: Change, limit: int) -> list[str]:
    if change == "remove":
        return [item for item in current if item not in items]
    added = [*current, *(item for item in items if item not in current)]
    if len(added) > limit:
        raise SettingsRefused(f"That list holds at most {limit}; remove some first.")
    return added


@dataclass(frozen=True)
class Edit:
    fields: type[Fields]
    apply: Callable[[ServerPolicy, Any], tuple[str, Any]]


EDITS: dict[str, Edit] = {
    "channels": Edit(ChannelsFields, channels),
    "buttons": Edit(ButtonsFields, buttons),
    "blocklist": Edit(BlocklistFields, blocklist),
    "nsfw": Edit(NsfwFields, nsfw),
    "block": Edit(PersonFields, block),
    "unblock": Edit(PersonFields, unblock),
}
