"""How /settings shows a server's policy and its changes: short lines, lists within a budget,
channels and people as the platform shows them (on Discord a mention, which pings nobody:
every message is sent with no allowed mentions)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agent.policy.models import PolicyChange
from agent.policy.rules import ServerRules

LIST_CHARS = 300  # each list in a reply; 5 of them stay well under Discord's 2,000
VALUE_CHARS = 80  # an old or new value in the history
REFS = {"discord": ("<#{}>", "<@{}>")}
PLAIN_REFS = ("channel {}", "person {}")


def channel_ref(platform: str, channel_id: str) -> str:
    return REFS.get(platform, PLAIN_REFS)[0].format(channel_id)


def person_ref(platform: str, user_id: str) -> str:
    return REFS.get(platform, PLAIN_REFS)[1].format(user_id)


def listed(items: Sequence[str], budget: int = LIST_CHARS) -> str:
    """`items` joined by commas, as many as fit in `budget`, then how many more."""
    shown: list[str] = []
    for index, item in enumerate(items):
        if sum(len(s) + 2 for s in shown) + len(item) > budget:
            return ", ".join(shown) + f" … and {len(items) - index} more"
        shown.append(item)
    return ", ".join(shown)


def channels_line(platform: str, channels: Sequence[str]) -> str:
    if not channels:
        return "every channel"
    return listed([channel_ref(platform, channel) for channel in channels])


def people_line(platform: str, people: Sequence[str]) -> str:
    return listed([person_ref(platform, person) for person in people]) if people else "nobody"


def terms_line(terms: Sequence[str]) -> str:
    return listed([f"“{term}”" for term in terms]) if terms else "none"


def buttons_line(buttons: str | None) -> str:
    if buttons is None:
        return "as the operator set them"
    return "anyone" if buttons == "everyone" else "only the person who asked for the piece"


def nsfw_line(nsfw: bool) -> str:
    if nsfw:
        return "unfiltered images allowed, in age-restricted channels only"
    return "strict image checks in every channel"


def policy_text(platform: str, rules: ServerRules, last: PolicyChange | None) -> str:
    lines = [
        "atelier's settings in this server:",
        f"- Answers in: {channels_line(platform, rules.channels)}",
        f"- Buttons under a piece: {buttons_line(rules.buttons)}",
        f"- Blocklist (on top of the operator's): {terms_line(rules.blocklist)}",
        f"- Explicit images: {nsfw_line(rules.nsfw)}",
        f"- Ignored: {people_line(platform, rules.blocked_users)}",
    ]
    if last is not None:
        lines.append(f"Last change: {change_line(platform, last)}")
        lines.append("/settings history lists the recent ones.")
    return "\n".join(lines)


def history_text(platform: str, changes: Sequence[PolicyChange]) -> str:
    if not changes:
        return "Nobody has changed atelier's settings in this server yet."
    lines = [change_line(platform, change) for change in changes]
    return "Recent changes to atelier's settings here, newest first:\n" + "\n".join(lines)


def change_line(platform: str, change: PolicyChange) -> str:
    when = change.changed_at.strftime("%Y-%m-%d %H:%M UTC")
    old = _clipped(value_text(platform, change.setting, change.old))
    new = _clipped(value_text(platform, change.setting, change.new))
    who = f"{change.actor_name} ({person_ref(platform, change.actor_id)})"
    return f"{when} · {who} · {change.setting}: {old} → {new}"


def value_text(platform: str, setting: str, value: Any) -> str:
    """A stored value of `setting` as a person reads it."""
    items = [str(item) for item in value] if isinstance(value, list) else []
    if setting == "channels":
        return channels_line(platform, items)
    if setting == "blocked_users":
        return people_line(platform, items)
    if setting == "blocklist":
        return terms_line(items)
    if setting == "buttons":
        return buttons_line(value if isinstance(value, str) else None)
    return "allowed" if value is True else "not allowed"


def _clipped(text: str) -> str:
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "…"
