"""A poem set to music: the description its music is made from.

The chat model is asked to describe music for the poem; if none of what it says is a usable
description of music (a short line naming an instrument and a mood, tempo or genre), one is
built from what can be counted in the poem: its tone and form as it was made, its mood words
and its line lengths. The note says which happened, so nobody is told a model did what it
did not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from tools.contract import FocusArtifact, ToolContext
from tools.models.sampling import Sampling, sample
from tools.models.specs import ModelUnavailable
from tools.models.text import LoadedCausalLM
from tools.music.descriptions import (
    INSTRUMENTS,
    MAX_DESCRIPTION_CHARS,
    STYLE,
    joined,
    musical_words,
    words,
    wordset,
)

CHAT_MODEL_ROLE = "chat"
DESCRIPTION_CANDIDATES = 3


@dataclass(frozen=True)
class PoemSetting:
    """The description music for a poem is made from, and where it came from."""

    description: str
    described_by: Literal["chat model", "poem features"]
    note: str


def describe_poem(
    poem: FocusArtifact, request: str, seed: int, context: ToolContext
) -> PoemSetting:
    """Ask the chat model to describe music for the poem; when none of its replies is a
    usable description (or there is no chat model), build one from the poem itself. The
    request's own musical words ("... with a harp") are added either way."""
    context.progress(0.02, "reading the poem")
    wishes = musical_words(request)
    chat: LoadedCausalLM | None
    try:
        chat = context.models.get(CHAT_MODEL_ROLE)
    except ModelUnavailable:
        chat = None
    if chat is not None:
        found = _chat_description(chat, poem, seed, context)
        if found is not None:
            return PoemSetting(
                joined(found, wishes),
                "chat model",
                f"set #{poem.number} to music as the chat model described it",
            )
    derived, evidence = description_from_poem(poem)
    why = (
        "the chat model is not available"
        if chat is None
        else "the chat model's suggestion was not a usable description of music"
    )
    return PoemSetting(
        joined(derived, wishes),
        "poem features",
        f"set #{poem.number} to music, described from {evidence} ({why})",
    )


def _chat_description(
    chat: LoadedCausalLM, poem: FocusArtifact, seed: int, context: ToolContext
) -> str | None:
    """The first of the chat model's replies that is a usable description, if any is."""
    replies = sample(
        chat,
        _describe_prompt(poem.text or ""),
        count=DESCRIPTION_CANDIDATES,
        seed=seed,
        sampling=Sampling(max_new_tokens=48, temperature=0.7),
    )
    context.check()
    return next((found for reply in replies if (found := usable_description(reply))), None)


def usable_description(reply: str) -> str | None:
    """A chat model's reply as a music description, or None when it is not one: it must be
    a short line of words naming at least one instrument and one mood, tempo or genre."""
    line = next((part for part in reply.splitlines() if part.strip()), "")
    line = re.sub(r"^(description|music)\s*:\s*", "", line.strip().strip("\"'“”*"), flags=re.I)
    found = words(line)
    letters = sum(ch.isascii() and ch.isalpha() for ch in line)
    visible = sum(not ch.isspace() for ch in line)
    if not 3 <= len(found) <= 40 or letters < 0.8 * max(visible, 1):
        return None
    if not (INSTRUMENTS.intersection(found) and STYLE.intersection(found)):
        return None
    return line[:MAX_DESCRIPTION_CHARS]


def _describe_prompt(poem: str) -> list[dict[str, str]]:
    ask = (
        f"Poem:\n{poem}\n\nDescribe music to accompany this poem in one line: its mood, "
        "tempo and instruments, for example 'slow, wistful solo piano with soft strings'. "
        "Reply with that line only."
    )
    return [
        {"role": "system", "content": "You are a film composer."},
        {"role": "user", "content": ask},
    ]


# Moods a poem's words point to, with music that carries each.
_MOODS: Mapping[str, tuple[frozenset[str], str]] = {
    "melancholy": (
        wordset(
            "rain tears grey gray alone lonely loss lost sorrow sad cold grave farewell "
            "autumn fall fading dusk ash mourning weep empty 雨 泪 孤 秋 愁 别"
        ),
        "solo piano and cello",
    ),
    "calm": (
        wordset(
            "moon snow still quiet silence sleep dream calm soft gentle night stars pond "
            "mist 月 雪 静 夜 梦"
        ),
        "soft piano and ambient pads",
    ),
    "bright": (
        wordset(
            "sun spring joy dance bright morning bloom flowers light laugh gold summer "
            "birds 春 日 花 笑"
        ),
        "acoustic guitar and glockenspiel",
    ),
    "flowing": (
        wordset("sea river tide wave waves water stream wind sail shore 海 江 水 风"),
        "harp and strings",
    ),
    "intense": (
        wordset("storm fire war thunder blood rage burn fight iron 火 战 雷"),
        "drums and low brass",
    ),
}
_FORM_TEMPO = {
    "haiku": "slow, sparse",
    "tanka": "slow, sparse",
    "limerick": "bouncy, playful",
    "sonnet": "moderate, lyrical",
}


def description_from_poem(poem: FocusArtifact) -> tuple[str, str]:
    """A description from what can be counted in the poem: its tone and form (as it was
    made), mood words, and line length; and the evidence, for the note."""
    text = poem.text or ""
    tokens = words(text) + [ch for ch in text if _is_hanzi(ch)]
    tone = str(poem.params.get("tone") or "").strip()
    scores = {mood: sum(token in vocab for token in tokens) for mood, (vocab, _) in _MOODS.items()}
    mood = max(scores, key=lambda name: scores[name])
    evidence = [f"its tone '{tone}'"] if tone else []
    if scores[mood] == 0:
        mood = "reflective"
        instruments = "piano and strings"
    else:
        vocab = _MOODS[mood][0]
        found = list(dict.fromkeys(token for token in tokens if token in vocab))[:3]
        evidence.append(f"its words {', '.join(found)}")
        instruments = _MOODS[mood][1]
    if str(poem.params.get("lang")) == "zh" or any(_is_hanzi(ch) for ch in text):
        instruments = "guzheng and bamboo flute"
    tempo, because = _tempo(poem, text)
    evidence.append(because)
    mood_words = f"{tone}, {mood}" if tone else mood
    return f"{tempo}, {mood_words}, {instruments}", " and ".join(evidence)


def _is_hanzi(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


def _tempo(poem: FocusArtifact, text: str) -> tuple[str, str]:
    form = str(poem.params.get("form") or "")
    if form in _FORM_TEMPO:
        return _FORM_TEMPO[form], f"its form ({form})"
    lines = [line for line in text.splitlines() if line.strip()]
    per_line = sum(len(line.split()) for line in lines) / max(len(lines), 1)
    if per_line <= 5:
        return "slow", "its short lines"
    if per_line <= 9:
        return "moderate tempo", "its mid-length lines"
    return "flowing", "its long lines"
