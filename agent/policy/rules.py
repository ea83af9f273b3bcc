"""A server's policy as values (ServerRules), and what it means for one turn (PlaceRules).

A server can only make atelier stricter than the operator made it: its blocklist is added to
the operator's image blocklist, and the one thing it may allow, unfiltered images, is allowed
only in age-restricted channels and only relaxes the strict rule servers get (explicit
pictures refused, tools/image/safety.py); the operator's own checks always apply.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from agent.policy.words import blocked_term
from agent.types import Place
from tools.contract import ArtifactKind, Tool, ToolArgs

Buttons = Literal["requester", "everyone"]
BLOCKED = "An admin of this server has asked atelier not to answer you here."
ELSEWHERE = "atelier does not answer in this channel: this server's admins chose where it does."


@dataclass(frozen=True)
class ServerRules:
    """What /settings stores for one server."""

    channels: tuple[str, ...] = ()  # the channels atelier answers in; none listed: every one
    buttons: Buttons | None = None  # who may press a piece's buttons; None: the operator's
    blocklist: tuple[str, ...] = ()  # normalised terms (words.py), on top of the operator's
    nsfw: bool = False  # unfiltered images in age-restricted channels
    blocked_users: tuple[str, ...] = ()  # platform ids of the people atelier ignores here

    def refusal(self, place: Place, user_id: str) -> str | None:
        """Why atelier does not answer `user_id` at `place` (one line), or None. A thread is
        in its parent channel."""
        if user_id in self.blocked_users:
            return BLOCKED
        if self.channels and place.channel_id not in self.channels:
            return ELSEWHERE
        return None

    def everyone_presses(self, default: bool) -> bool:
        """Whether people other than a piece's requester may press its buttons here."""
        return default if self.buttons is None else self.buttons == "everyone"

    def at(self, place: Place) -> PlaceRules:
        unfiltered = self.nsfw and place.age_restricted
        return PlaceRules(blocklist=self.blocklist, strict_images=not unfiltered)


NO_SERVER = ServerRules()


@dataclass(frozen=True)
class PlaceRules:
    """What a server's policy asks of the tools for one turn at one place."""

    blocklist: tuple[str, ...] = ()
    strict_images: bool = False  # explicit pictures refused (a server's channel, not unfiltered)

    def refusal(self, args: ToolArgs, style: str | None) -> str | None:
        """Why the server refuses this request (one line), or None: a term of its blocklist
        in any text the request carries, its session's style included."""
        texts = [*_texts(args.model_dump()), style or ""]
        term = blocked_term(texts, self.blocklist)
        if term is None:
            return None
        said = f"I can't make that here: “{term}” is on this server's blocklist."
        return said + " Nothing was stored."

    def tool_settings(self, tool: Tool, settings: Mapping[str, Any]) -> Mapping[str, Any]:
        """The tool's settings with this place's rules added: an image tool also checks the
        prompts it derives itself (from a poem, a refinement) against both blocklists."""
        if tool.kind is not ArtifactKind.IMAGE or self == NO_RULES:
            return settings
        operator = settings.get("blocklist") or ()
        terms = operator.split(",") if isinstance(operator, str) else list(operator)
        return {
            **settings,
            "blocklist": [*terms, *self.blocklist],
            "strict": self.strict_images,
        }


# A DM, the console: the operator's settings alone.
NO_RULES = PlaceRules()


def _texts(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _texts(item)
