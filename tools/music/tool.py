"""The music tool: text to music with MusicGen, extensions of a clip, and a poem set to music.

Four ways to make a clip, chosen by `mode` or, when it is not given, by the request and the
piece in focus:
  new     `description` -> a clip of `duration` seconds (1-30, default 8)
  extend  the music in focus (made here or uploaded) continued by `duration` more seconds:
          MusicGen hears its last seconds as an audio prompt, and the new audio is crossfaded
          onto the untouched original, up to 120 s in all; a child version of that piece
  rework  a new take of the music in focus with its description amended by the request
          ("softer drums"); a child version. Critique suggestions arrive this way.
  poem    the poem in focus set to music: the chat model describes music for it; if what it
          says is not a usable description of music, one is built from the poem's tone,
          words and line lengths, and the note says which happened. A new piece whose parent
          is the poem.

Every clip is an OGG Vorbis file (inline in Discord, under 10 MiB) tagged with description,
seed, model and duration; its WAV (lossless, what an extension builds on) and a PNG preview
(waveform over spectrogram) are kept beside it as the piece's files "wav" and "preview".
"""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from tools.catalog import MUSIC, MUSIC_FOR_A_POEM
from tools.contract import (
    ArtifactDraft,
    ArtifactKind,
    FocusArtifact,
    Media,
    Tool,
    ToolArgs,
    ToolContext,
    ToolRefused,
)
from tools.from_poem import poem_asked_for
from tools.models.loading import ModelUnavailable
from tools.models.sampling import Sampling, sample, seeded
from tools.music.files import (
    AUDIO_UPLOADS,
    OGG_MIME,
    PNG_MIME,
    WAV_MIME,
    Tags,
    crossfade_join,
    decode,
    encode_ogg,
    encode_wav,
    preview_png,
    resample,
    to_mono,
)
from tools.music.model import LoadedMusicGen, generate_music

MODEL_ROLE = "music"
CHAT_MODEL_ROLE = "chat"
DEFAULT_SECONDS = 8.0
MIN_SECONDS, MAX_SECONDS = 1.0, 30.0  # one take; longer pieces are made by extending
MAX_TOTAL_SECONDS = 120.0
# How much of a clip MusicGen hears before continuing it: enough for its tempo and key, and
# with a 30 s extension well inside the 2048 positions of MusicGen's decoder.
CONTEXT_SECONDS = 5.0
CROSSFADE_SECONDS = 0.25
DESCRIPTION_CANDIDATES = 3
MAX_DESCRIPTION_CHARS = 300  # what MusicGen's T5 is given; T5 reads ~512 tokens at most
DESCRIPTION_LIMIT = 500  # what a request may say

Mode = Literal["new", "extend", "rework", "poem"]

ASK_FOR_DESCRIPTION = (
    "What should the music sound like? Describe a mood, genre, instruments or tempo, "
    "for example `/music rainy night jazz, slow brushes`."
)


class MusicRefused(ToolRefused):
    """A request this tool cannot carry out; the message is one line for the person."""


class MusicArgs(ToolArgs):
    description: str = Field(
        "",
        max_length=DESCRIPTION_LIMIT,
        description="the music: genre, mood, instruments, tempo; or how to change or extend "
        "the music in focus",
    )
    duration: float | None = Field(
        None,
        allow_inf_nan=False,
        description="seconds to make, 1-30 (default 8, or as the request says); when "
        "extending, seconds to add",
    )
    seed: int | None = Field(None, ge=0, le=2**31 - 1, description="the random seed")
    guidance: float = Field(
        3.0,
        ge=1.0,
        le=10.0,
        description="how closely to follow the description (1: loosely, 3: usual, 10: strictly)",
    )
    mode: Mode | None = Field(
        None,
        description="new, extend (the music in focus), rework (a new take of it) or poem "
        "(set the poem in focus to music); default: what the request asks",
    )

    @model_validator(mode="after")
    def _something_to_go_on(self) -> MusicArgs:
        # Extending or setting a poem has a source to work from; anything else needs words.
        if not self.description.strip() and self.mode not in ("extend", "poem"):
            raise ValueError(ASK_FOR_DESCRIPTION)
        return self


@dataclass(frozen=True)
class Clip:
    samples: np.ndarray  # mono float32
    rate: int

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate


def compose(args: MusicArgs, context: ToolContext) -> ArtifactDraft:
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    mode = choose_mode(args, context.focus)
    if mode == "extend":
        return extend(args, _music_focus(context.focus, "extend"), seed, context)
    source = _source(mode, args, seed, context)
    asked = args.duration if args.duration is not None else _seconds_in(args.description)
    seconds, clamped = clamp_seconds(asked if asked is not None else source.seconds)
    loaded: LoadedMusicGen = context.models.get(MODEL_ROLE)
    clip = _generate(loaded, source.description, seconds, args.guidance, seed, context, None)
    params = _params(loaded, source.description, seed, clip.seconds, args, mode)
    params.update(source.params)
    notes = [*source.notes, *clamped]
    return _draft(clip, source.description, params, loaded, notes, from_focus=mode != "new")


@dataclass(frozen=True)
class Source:
    """What a new take is made from: its description, and what to say and record about it."""

    description: str
    notes: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    seconds: float | None = None  # the length when the request names none


def _source(mode: Mode, args: MusicArgs, seed: int, context: ToolContext) -> Source:
    if mode == "poem":
        poem = _poem_focus(context.focus)
        setting = describe_poem(poem, args, seed, context)
        return Source(
            setting.description,
            (setting.note,),
            {"poem": poem.number, "described_by": setting.described_by},
        )
    if mode == "rework":
        focus = _music_focus(context.focus, "rework")
        return Source(
            _amended(focus, args.description),
            (f"a new take of #{focus.number}",),
            {"reworked": focus.number},
            seconds=float(focus.params.get("duration") or DEFAULT_SECONDS),
        )
    return Source(args.description.strip())


# --- choosing what to do ------------------------------------------------------------------

_EXTEND_WORDS = re.compile(
    r"\b(extend|extends|extended|continue|continues|keep going|carry on|longer|lengthen|"
    r"more of (it|this|that)|add \d+|another \d+)\b",
    re.IGNORECASE,
)
# A change to the clip in focus: these words anywhere, or a request that opens with "more",
# "less", "add" ... ("more drums"); "a calm piece with more reverb" is a new piece.
_CHANGE_WORDS = re.compile(
    r"\b(make it|make the|change|instead|rework|redo|again but|another take|remake|apply|"
    r"suggestion|softer|louder|faster|slower|darker|brighter|happier|sadder|calmer|heavier|"
    r"lighter)\b|^\W*(more|less|add|remove|without|but|with)\b",
    re.IGNORECASE,
)


def choose_mode(args: MusicArgs, focus: FocusArtifact | None) -> Mode:
    """The mode asked for, else the one the request and the focus suggest."""
    if args.mode is not None:
        return args.mode
    text = args.description
    if focus is not None and focus.kind is ArtifactKind.MUSIC:
        if _EXTEND_WORDS.search(text):
            return "extend"
        if _CHANGE_WORDS.search(text):
            return "rework"
    if poem_asked_for(focus, text) is not None:
        return "poem"
    return "new"


def _music_focus(focus: FocusArtifact | None, mode: str) -> FocusArtifact:
    if focus is None or focus.kind is not ArtifactKind.MUSIC or focus.media_path is None:
        raise MusicRefused(
            f"There is no music in focus to {mode}; reply to a clip, name it as #N, or upload one."
        )
    return focus


def _poem_focus(focus: FocusArtifact | None) -> FocusArtifact:
    if focus is None or focus.kind is not ArtifactKind.POEM or not (focus.text or "").strip():
        raise MusicRefused("There is no poem in focus to set to music; name it as #N.")
    return focus


_NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "eight": 8,
    "ten": 10,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "sixty": 60,
    "a": 1,
    "half a": 0.5,
}
_SECONDS = re.compile(
    r"(?<![\w.])(\d+(?:\.\d+)?|" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r")"
    r"[\s-]*(s|secs?|seconds?|min|mins|minutes?)\b",
    re.IGNORECASE,
)


def _seconds_in(text: str) -> float | None:
    """A length the request states ("8 seconds of rain", "by twenty seconds", "a minute")."""
    found = _SECONDS.search(text)
    if found is None:
        return None
    amount, unit = found.group(1).lower(), found.group(2).lower()
    value = float(_NUMBER_WORDS.get(amount, 0) or amount)
    return value * 60 if unit.startswith("m") else value


def clamp_seconds(asked: float | None, *, most: float = MAX_SECONDS) -> tuple[float, list[str]]:
    """The seconds to make, within 1 s and `most`, and a note when the request was outside."""
    if asked is None:
        return min(DEFAULT_SECONDS, most), []
    seconds = min(max(asked, MIN_SECONDS), most)
    if seconds == asked:
        return seconds, []
    if asked < MIN_SECONDS:
        return seconds, [f"{asked:g} s is too short; made {seconds:g} s"]
    if most < MAX_SECONDS:
        return seconds, [f"a piece can run {MAX_TOTAL_SECONDS:g} s at most; added {seconds:g} s"]
    return seconds, [f"{asked:g} s is more than one take; made {seconds:g} s (extend it for more)"]


# --- generating ---------------------------------------------------------------------------


def _generate(
    loaded: LoadedMusicGen,
    description: str,
    seconds: float,
    guidance: float,
    seed: int,
    context: ToolContext,
    prompt: np.ndarray | None,
) -> Clip:
    """Generate under the model's lock, reporting progress per decoder step and stopping
    between steps when the run is cancelled."""
    last = [0.0]

    def on_step(done: int, total: int) -> None:
        context.check()
        fraction = 0.1 + 0.8 * done / total
        if fraction - last[0] >= 0.02 or done == total:
            last[0] = fraction
            made = min(done / loaded.frame_rate, seconds)
            context.progress(fraction, f"composing {made:.1f} of {seconds:g} s")

    context.progress(0.1, "composing")
    with loaded.lock, seeded(seed, loaded.device):
        waves = generate_music(
            loaded, [description], seconds, guidance=guidance, prompt_audio=prompt, on_step=on_step
        )
    context.check()
    return Clip(waves[0], loaded.sampling_rate)


def _params(
    loaded: LoadedMusicGen,
    description: str,
    seed: int,
    seconds: float,
    args: MusicArgs,
    mode: Mode,
) -> dict[str, Any]:
    return {
        "model": loaded.spec,
        "description": description,
        "seed": seed,
        "duration": round(seconds, 3),
        "guidance": args.guidance,
        "mode": mode,
        "sample_rate": loaded.sampling_rate,
    }


def _draft(
    clip: Clip,
    description: str,
    params: dict[str, Any],
    loaded: LoadedMusicGen,
    notes: list[str],
    *,
    from_focus: bool,
) -> ArtifactDraft:
    tags = Tags(description, int(params["seed"]), loaded.spec, clip.seconds)
    ogg = encode_ogg(clip.samples, clip.rate, tags)
    files = {
        "wav": Media(encode_wav(clip.samples, clip.rate, tags), WAV_MIME),
        "preview": Media(preview_png(clip.samples, clip.rate), PNG_MIME),
    }
    said = [*notes, f"{clip.seconds:.1f} s · seed {params['seed']} · {loaded.spec}"]
    return ArtifactDraft(
        ArtifactKind.MUSIC,
        text=description or None,
        media=Media(ogg, OGG_MIME),
        params=params,
        from_focus=from_focus,
        note=" · ".join(said),
        files=files,
    )


# --- extending ----------------------------------------------------------------------------


def extend(args: MusicArgs, focus: FocusArtifact, seed: int, context: ToolContext) -> ArtifactDraft:
    loaded: LoadedMusicGen = context.models.get(MODEL_ROLE)
    original, converted = _read_focus_clip(focus, loaded.sampling_rate)
    room = MAX_TOTAL_SECONDS - original.seconds
    if room < MIN_SECONDS:
        raise MusicRefused(
            f"#{focus.number} is already {original.seconds:.0f} s long; pieces stop at "
            f"{MAX_TOTAL_SECONDS:g} s."
        )
    asked = args.duration if args.duration is not None else _seconds_in(args.description)
    seconds, notes = clamp_seconds(asked, most=min(MAX_SECONDS, room))
    # The prompt is a whole number of codec frames, so the model's rendering of it ends
    # exactly where the original does.
    hop = loaded.hop_length
    prompt_samples = math.floor(min(CONTEXT_SECONDS, original.seconds) * loaded.frame_rate) * hop
    if prompt_samples == 0:
        raise MusicRefused(f"#{focus.number} is too short to continue; it needs 1/50 s or more.")
    description = _amended(focus, args.description, only_musical_words=True)
    prompt = original.samples[-prompt_samples:]
    made = _generate(loaded, description, seconds, args.guidance, seed, context, prompt)
    fade = min(round(CROSSFADE_SECONDS * loaded.sampling_rate), prompt_samples)
    rendered_prompt = made.samples[:prompt_samples]
    joined = crossfade_join(
        original.samples, rendered_prompt[-fade:], made.samples[prompt_samples:]
    )
    clip = Clip(joined, loaded.sampling_rate)
    params = _params(loaded, description, seed, clip.seconds, args, "extend")
    params.update(
        extended=focus.number,
        added=round(seconds, 3),
        context_seconds=round(prompt_samples / loaded.sampling_rate, 3),
    )
    said = (
        f"extended #{focus.number} by {seconds:g} s to {clip.seconds:.1f} s, continuing from "
        f"its last {prompt_samples / loaded.sampling_rate:g} s, crossfaded over "
        f"{fade / loaded.sampling_rate:g} s"
    )
    return _draft(clip, description, params, loaded, [said, *converted, *notes], from_focus=True)


def _read_focus_clip(focus: FocusArtifact, rate: int) -> tuple[Clip, list[str]]:
    """The focus piece's audio, mono at the model's rate, and a note when it was not. Read
    from its lossless WAV where it has one, so extending twice does not re-encode twice."""
    assert focus.media_path is not None
    source = focus.files.get("wav", focus.media_path)
    try:
        samples, own_rate = decode(source.read_bytes())
    except (OSError, RuntimeError) as exc:  # a missing file, or bytes libsndfile cannot read
        raise MusicRefused(f"I could not read the audio of #{focus.number} ({exc}).") from exc
    converted = samples.ndim > 1 or own_rate != rate
    note = [f"#{focus.number} was made mono at {rate / 1000:g} kHz to continue it"]
    return Clip(resample(to_mono(samples), own_rate, rate), rate), note if converted else []


# --- descriptions ------------------------------------------------------------------------


def _wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


_INSTRUMENTS = _wordset(
    "piano guitar bass drums drum violin cello viola strings string synth synths pad pads "
    "organ flute harp trumpet sax saxophone clarinet oboe horn horns brass choir voice vocals "
    "bells glockenspiel marimba percussion orchestra orchestral ukulele banjo accordion "
    "guzheng erhu pipa koto sitar keys keyboard rhodes beat beats brushes snare bamboo"
)
_STYLE = _wordset(
    "slow fast upbeat moderate gentle calm quiet soft loud slowly tempo bpm ambient jazz "
    "rock pop folk classical lofi blues funk electronic cinematic epic dreamy sad happy "
    "melancholy melancholic wistful dark bright warm peaceful playful tense intense "
    "joyful mellow tender somber hopeful mysterious romantic lively relaxed driving "
    "flowing sparse minimal march waltz lullaby ballad"
)
_MUSIC_WORDS = _INSTRUMENTS | _STYLE


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def _amended(focus: FocusArtifact, request: str, *, only_musical_words: bool = False) -> str:
    """The focus clip's description with the request added: the whole instruction for a new
    take ("make the drums softer"), only its musical words for an extension ("extend it
    with a trumpet" -> "trumpet"), where the rest only says what to do."""
    base = str(focus.params.get("description") or "").strip()
    extra = re.sub(r"#\d+", "", request).strip(" ,.;")
    if only_musical_words:
        extra = _musical_words(extra)
    return _joined(base, extra)


def usable_description(reply: str) -> str | None:
    """A chat model's reply as a music description, or None when it is not one: it must be
    a short line of words naming at least one instrument and one mood, tempo or genre."""
    line = next((part for part in reply.splitlines() if part.strip()), "")
    line = re.sub(r"^(description|music)\s*:\s*", "", line.strip().strip("\"'“”*"), flags=re.I)
    words = _words(line)
    letters = sum(ch.isascii() and ch.isalpha() for ch in line)
    visible = sum(not ch.isspace() for ch in line)
    if not 3 <= len(words) <= 40 or letters < 0.8 * max(visible, 1):
        return None
    if not (_INSTRUMENTS.intersection(words) and _STYLE.intersection(words)):
        return None
    return line[:MAX_DESCRIPTION_CHARS]


@dataclass(frozen=True)
class PoemSetting:
    """The description music for a poem is made from, and where it came from."""

    description: str
    described_by: Literal["chat model", "poem features"]
    note: str


def describe_poem(
    poem: FocusArtifact, args: MusicArgs, seed: int, context: ToolContext
) -> PoemSetting:
    """Ask the chat model to describe music for the poem; when none of its replies is a
    usable description (or there is no chat model), build one from the poem itself. Either
    way the note says which, so nobody is told a model did what it did not."""
    context.progress(0.02, "reading the poem")
    wishes = _musical_words(args.description)
    try:
        chat = context.models.get(CHAT_MODEL_ROLE)
    except ModelUnavailable:
        chat = None
    if chat is not None:
        replies = sample(
            chat,
            _describe_prompt(poem.text or ""),
            count=DESCRIPTION_CANDIDATES,
            seed=seed,
            sampling=Sampling(max_new_tokens=48, temperature=0.7),
        )
        context.check()
        for reply in replies:
            found = usable_description(reply)
            if found:
                return PoemSetting(
                    _joined(found, wishes),
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
        _joined(derived, wishes),
        "poem features",
        f"set #{poem.number} to music, described from {evidence} ({why})",
    )


def _joined(*parts: str) -> str:
    return ", ".join(part for part in parts if part)[:MAX_DESCRIPTION_CHARS]


def _musical_words(request: str) -> str:
    """The words of a request that say something about the music ("... with a harp" ->
    "harp"), without the ones that only say what to do ("set this poem to music")."""
    return " ".join(word for word in _words(request) if word in _MUSIC_WORDS)


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
        _wordset(
            "rain tears grey gray alone lonely loss lost sorrow sad cold grave farewell "
            "autumn fall fading dusk ash mourning weep empty 雨 泪 孤 秋 愁 别"
        ),
        "solo piano and cello",
    ),
    "calm": (
        _wordset(
            "moon snow still quiet silence sleep dream calm soft gentle night stars pond "
            "mist 月 雪 静 夜 梦"
        ),
        "soft piano and ambient pads",
    ),
    "bright": (
        _wordset(
            "sun spring joy dance bright morning bloom flowers light laugh gold summer "
            "birds 春 日 花 笑"
        ),
        "acoustic guitar and glockenspiel",
    ),
    "flowing": (
        _wordset("sea river tide wave waves water stream wind sail shore 海 江 水 风"),
        "harp and strings",
    ),
    "intense": (
        _wordset("storm fire war thunder blood rage burn fight iron 火 战 雷"),
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
    tokens = _words(text) + [ch for ch in text if "\u4e00" <= ch <= "\u9fff"]
    tone = str(poem.params.get("tone") or "").strip()
    scores = {mood: sum(token in words for token in tokens) for mood, (words, _) in _MOODS.items()}
    mood = max(scores, key=lambda name: scores[name])
    evidence = [f"its tone '{tone}'"] if tone else []
    if scores[mood] == 0:
        mood = "reflective"
        instruments = "piano and strings"
    else:
        words = _MOODS[mood][0]
        found = list(dict.fromkeys(token for token in tokens if token in words))[:3]
        evidence.append(f"its words {', '.join(found)}")
        instruments = _MOODS[mood][1]
    if str(poem.params.get("lang")) == "zh" or any("\u4e00" <= ch <= "\u9fff" for ch in text):
        instruments = "guzheng and bamboo flute"
    tempo, because = _tempo(poem, text)
    evidence.append(because)
    mood_words = f"{tone}, {mood}" if tone else mood
    return f"{tempo}, {mood_words}, {instruments}", " and ".join(evidence)


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


def rework_by(instruction: str) -> MusicArgs:
    """Revision by an instruction (a critique's suggestion): a new take of the clip in focus
    with its description amended. Regenerating, not extending: a suggestion is about how the
    piece sounds, and continuing would keep what it asks to change."""
    return MusicArgs(description=instruction.strip()[:DESCRIPTION_LIMIT], mode="rework")


MUSIC_TOOL = Tool(
    MUSIC.name,
    MUSIC.description,
    ArtifactKind.MUSIC,
    MusicArgs,
    compose,
    text_arg="description",
    examples=MUSIC.examples,
    also_serves=(MUSIC_FOR_A_POEM,),
    uploads=AUDIO_UPLOADS,
    revision=rework_by,
)
