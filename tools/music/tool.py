"""The music tool: text to music with MusicGen, extensions of a clip, and a poem set to music.

Four ways to make a clip, chosen by `mode` (free text sets it from its words, in
tools/music/intents.py; without one it is "new"), each working on the piece in focus:
  new     `description` -> a clip of `duration` seconds (1-30, default 8)
  extend  the music in focus (made here or uploaded) continued by `duration` more seconds,
          up to 120 s in all (tools/music/extend.py); a child version of that piece
  rework  a new take of the music in focus with its description amended by the request
          ("softer drums"), as long as it was unless `duration` says; a child version.
          Critique suggestions arrive this way.
  poem    the poem in focus set to music, described by the chat model or, failing that, from
          the poem's tone, words and line lengths (tools/music/setting.py). A new piece whose
          parent is the poem.
  picture music for the picture in focus: the request's musical words, then the vision
          model's words about the picture (tools/from_image.py). A new piece whose parent is
          the picture.
  melody  the clip in focus (made here or uploaded, a hum) as the tune of a new clip, played
          as the request says ("use this tune for a string quartet"), with MusicGen-Melody
          (tools/music/melody.py). A new piece made from the clip, not a version of it.
A focus that does not fit the mode is refused in one line (tools/music/focus.py).

A new clip (mode "new") takes the person's taste where the request leaves it open: the
instruments, tempo word and length most of their kept clips share (tools/music/taste.py),
said in the note and recorded as the params' "taste".

Every clip is an OGG Vorbis file (inline in Discord, under 10 MiB) tagged with description,
seed, model and duration; its WAV (lossless, what an extension builds on) and a PNG preview
(waveform over spectrogram) are kept beside it as the piece's files "wav" and "preview"
(tools/music/draft.py).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from pydantic import Field, model_validator

from tools.catalog import MUSIC, MUSIC_FOR_A_PICTURE, MUSIC_FOR_A_POEM
from tools.contract import ArtifactDraft, ArtifactKind, Tool, ToolArgs, ToolContext, in_style
from tools.from_image import describe_picture
from tools.music.descriptions import amended, joined, musical_words
from tools.music.draft import clip_draft, clip_params
from tools.music.durations import DEFAULT_SECONDS, clamp_seconds, take_limit
from tools.music.extend import extend
from tools.music.files import AUDIO_UPLOADS
from tools.music.focus import music_focus, poem_focus
from tools.music.intents import read_music_request
from tools.music.melody import follow_melody
from tools.music.model import LoadedMusicGen
from tools.music.setting import describe_poem
from tools.music.take import MODEL_ROLE, generate
from tools.music.taste import MusicTaste, applied_taste, music_taste, tasted_fields

DESCRIPTION_LIMIT = 500  # what a request may say

Mode = Literal["new", "extend", "rework", "poem", "picture", "melody"]
# Modes with something to go on besides the description: the clip, poem or picture in focus.
DESCRIPTION_OPTIONAL: tuple[Mode, ...] = ("extend", "rework", "poem", "picture")

ASK_FOR_DESCRIPTION = (
    "What should the music sound like? Describe a mood, genre, instruments or tempo, "
    "for example `/music rainy night jazz, slow brushes`."
)


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
        description="new, extend (the music in focus), rework (a new take of it), poem "
        "(set the poem in focus to music), picture (music for the picture in focus) or "
        "melody (the clip in focus as the tune, played as described); default: what the "
        "request's words ask, else new",
    )

    @model_validator(mode="after")
    def _something_to_go_on(self) -> MusicArgs:
        # Extending, a new take, setting a poem or scoring a picture has a source to work
        # from; a new piece, or a tune played anew, needs words.
        if not self.description.strip() and self.mode not in DESCRIPTION_OPTIONAL:
            raise ValueError(ASK_FOR_DESCRIPTION)
        return self


def compose(args: MusicArgs, context: ToolContext) -> ArtifactDraft:
    """Make the clip `args.mode` asks for: an extension, or one new take from a source."""
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    mode: Mode = args.mode or "new"
    if mode == "extend":
        focus = music_focus(context.focus, "extend")
        return extend(focus, args.description, args.duration, args.guidance, seed, context)
    if mode == "melody":
        return follow_melody(args.description, args.duration, args.guidance, seed, context)
    taste = MusicTaste()
    if mode == "new":
        args, taste = with_taste(args, context)
    source = _source(mode, args, seed, context)
    source = replace(source, description=in_style(source.description, context.style))
    asked = args.duration if args.duration is not None else source.seconds
    seconds, clamped = clamp_seconds(asked, take=take_limit(context.settings))
    loaded: LoadedMusicGen = context.models.get(MODEL_ROLE)
    clip = generate(loaded, source.description, seconds, args.guidance, seed, context, None)
    params = clip_params(loaded, source.description, seed, clip.seconds, args.guidance, mode)
    params.update(source.params)
    notes = [*source.notes, *clamped]
    if taste:
        params["taste"] = taste.as_params()
        notes.insert(0, f"from your kept clips: {taste.words()}")
    return clip_draft(clip, source.description, params, loaded, notes, from_focus=mode != "new")


@dataclass(frozen=True)
class Source:
    """What a new take is made from: its description, and what to say and record about it."""

    description: str
    notes: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    seconds: float | None = None  # the length when `duration` is not given


def _source(mode: Mode, args: MusicArgs, seed: int, context: ToolContext) -> Source:
    if mode == "poem":
        poem = poem_focus(context.focus)
        setting = describe_poem(poem, args.description, seed, context)
        return Source(
            setting.description,
            (setting.note,),
            {"poem": poem.number, "described_by": setting.described_by},
        )
    if mode == "picture":
        picture = describe_picture(context, seed)
        return Source(
            # The person's words first: the cut to what MusicGen is given takes the end.
            joined(musical_words(args.description), picture.description),
            (f"music for #{picture.number}, as the vision model sees it: {picture.description}",),
            {"picture": picture.number, "picture_description": picture.description},
        )
    if mode == "rework":
        focus = music_focus(context.focus, "rework")
        return Source(
            amended(focus, args.description),
            (f"a new take of #{focus.number}",),
            {"reworked": focus.number},
            seconds=float(focus.params.get("duration") or DEFAULT_SECONDS),
        )
    return Source(args.description.strip())


def with_taste(args: MusicArgs, context: ToolContext) -> tuple[MusicArgs, MusicTaste]:
    """The args with the defaults the person's kept clips lend, where the request left them
    open, and what was applied."""
    taste = music_taste(context.kept) if context.kept else MusicTaste()
    update = tasted_fields(args.description, args.duration, taste)
    return args.model_copy(update=update), applied_taste(update, taste, args.description)


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
    also_serves=(MUSIC_FOR_A_POEM, MUSIC_FOR_A_PICTURE),
    uploads=AUDIO_UPLOADS,
    revision=rework_by,
    variation={"mode": "rework"},
    from_poem={"mode": "poem"},
    from_picture={"mode": "picture"},
    reads=read_music_request,
)
