"""What MusicGen is told: the words that say something about music (instruments, and mood,
tempo or genre), and descriptions built by amending or joining others, cut to what its T5
text encoder is given."""

from __future__ import annotations

import re

from tools.contract import PIECE_MENTION, FocusArtifact

MAX_DESCRIPTION_CHARS = 300  # what MusicGen's T5 is given; T5 reads ~512 tokens at most


def wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


INSTRUMENTS = wordset(
    "piano guitar bass drums drum violin cello viola strings string synth synths pad pads "
    "organ flute harp trumpet sax saxophone clarinet oboe horn horns brass choir voice vocals "
    "bells glockenspiel marimba percussion orchestra orchestral ukulele banjo accordion "
    "guzheng erhu pipa koto sitar keys keyboard rhodes beat beats brushes snare bamboo"
)
STYLE = wordset(
    "slow fast upbeat moderate gentle calm quiet soft loud slowly tempo bpm ambient jazz "
    "rock pop folk classical lofi blues funk electronic cinematic epic dreamy sad happy "
    "melancholy melancholic wistful dark bright warm peaceful playful tense intense "
    "joyful mellow tender somber hopeful mysterious romantic lively relaxed driving "
    "flowing sparse minimal march waltz lullaby ballad"
)
MUSIC_WORDS = INSTRUMENTS | STYLE


def words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def musical_words(request: str) -> str:
    """The words of a request that say something about the music ("... with a harp" ->
    "harp"), without the ones that only say what to do ("set this poem to music")."""
    return " ".join(word for word in words(request) if word in MUSIC_WORDS)


def joined(*parts: str) -> str:
    return ", ".join(part for part in parts if part)[:MAX_DESCRIPTION_CHARS]


def amended(focus: FocusArtifact, request: str, *, only_musical_words: bool = False) -> str:
    """The focus clip's description with the request added: the whole instruction for a new
    take ("make the drums softer"), only its musical words for an extension ("extend it
    with a trumpet" -> "trumpet"), where the rest only says what to do."""
    base = str(focus.params.get("description") or "").strip()
    # The piece named ("#4") is not something to hear; the agent has already resolved it.
    extra = PIECE_MENTION.sub("", request).strip(" ,.;")
    if only_musical_words:
        extra = musical_words(extra)
    return joined(base, extra)
