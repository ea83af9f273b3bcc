"""The critique tool: scores, evidence and suggestions for a poem, an image or a piece of music,
grounded in what can be measured about it.

1. Measure the piece: the form checker's findings per line, repeated words and stock phrases
   for a poem (tools/poem/findings.py); brightness, contrast, colourfulness, composition and
   CLIP similarity to its prompt for an image (tools/critique/image_measures.py); tempo, beat
   strength, key, loudness, dynamic range and spectral centroid for music
   (tools/critique/audio_measures.py).
2. Score it: the model reads a rubric with those measurements (an image also sees the
   picture) and, for each criterion, the score is its expected value under the model's own
   probabilities of answering "1" to "10". That is the model's judgement measured directly,
   so it is a number in range whatever the model's size.
3. Write it: the model gives one sentence of evidence per criterion and numbered suggestions
   in a fixed layout. What it writes is cleaned and checked; a line that is empty, echoes
   the prompt or is not English-like text is not passed off as the model's: the measurements
   stand in for it, marked "(measured)", and suggestions derived from the measurements are
   marked as such.

Poems and music are judged by the critique chat model (role "critique"); images by the
vision-language model (role "vision") and CLIP (role "clip"). The critique is stored as a
`critique` artifact whose parent is the piece; its params keep the scores, evidence,
suggestions and measurements, so "apply suggestion 2" can revise the piece by one of them
(agent/making/suggestions.py).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pronouncing
from PIL import Image, UnidentifiedImageError
from pydantic import Field, field_validator

from tools.catalog import CRITIQUE
from tools.contract import (
    ArtifactDraft,
    ArtifactKind,
    FocusArtifact,
    Tool,
    ToolArgs,
    ToolContext,
    ToolRefused,
)
from tools.critique import image_measures
from tools.critique.model import (
    CRITERIA,
    WRITING_TOKENS,
    Grounds,
    Reader,
    read_piece,
    text_reader,
    vision_reader,
)
from tools.models.loading import ModelUnavailable
from tools.models.vision import LoadedClip, LoadedVision
from tools.poem import findings as poem_findings
from tools.poem import prosody
from tools.poem.forms import FORM_CHOICES, form_name

TEXT_ROLE = "critique"
VISION_ROLE = "vision"
CLIP_ROLE = "clip"
MIN_SUGGESTIONS, TARGET_SUGGESTIONS, MAX_SUGGESTIONS = 2, 3, 4
EVIDENCE_CHARS, SUGGESTION_CHARS, FOOTER_CHARS, REPLY_CHARS = 170, 180, 420, 1900
ECHO_SHARE = 0.7
IMAGE_TYPES = {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/webp": "WebP",
    "image/gif": "GIF",
    "image/bmp": "BMP",
    "image/x-portable-graymap": "PGM",
    "image/x-portable-pixmap": "PPM",
}
AUDIO_TYPES = {
    "audio/wav": "WAV",
    "audio/x-wav": "WAV",
    "audio/wave": "WAV",
    "audio/flac": "FLAC",
    "audio/x-flac": "FLAC",
    "audio/ogg": "OGG",
    "audio/mpeg": "MP3",
}
SUPPORTED = (
    "I can critique poems (as text, or pasted in the message), images ("
    + ", ".join(dict.fromkeys(IMAGE_TYPES.values()))
    + ") and music ("
    + ", ".join(dict.fromkeys(AUDIO_TYPES.values()))
    + ")."
)
ASK_WHICH = (
    "Which piece should I critique? Name it as #N, reply to it, upload an image or audio "
    "file, or paste a poem of two lines or more (lines split by new lines or ' / ')."
)
# Words so common that an English sentence without any is not English.
_FUNCTION_WORDS = frozenset(
    re.findall(
        r"\w+",
        "the a an of to in on at and or but is are was were be it its this that with for as by "
        "from not no more less too very could would should can will has have",
    )
)
# A first word that makes a suggestion a remark rather than an action.
_NOT_ACTIONS = frozenset(
    re.findall(
        r"\w+",
        "the a an it its this that these those there i my we our your you he she they is are "
        "was were overall",
    )
)
# Words of a request that asks for a critique and says nothing about what to look at.
_ONLY_ASKING = frozenset(
    re.findall(
        r"\w+",
        "critique review rate judge give me some notes feedback on of the my this that it please "
        "what do you think about piece poem image picture painting song music track work a an",
    )
)
_LABEL = re.compile(
    r"^\W*(creativity|aesthetics|technique|emotional impact|emotion)\W*\s*[:\-–—]\s*(.*)$",
    re.IGNORECASE,
)
_NUMBERED = re.compile(r"^\W*(\d{1,2})\s*[.):\-]\s*(.+)$")
_SENTENCE = re.compile(r"^(.+?[.!?。！？])(?:\s|$)")
_MENTION = re.compile(r"(?<![\w#])#\d+\b")
_REQUEST_WORDS = re.compile(
    r"\b(critique|review|feedback|thoughts|opinion|judge|rate|notes?|think|comment)\b",
    re.IGNORECASE,
)


class CritiqueRefused(ToolRefused):
    """Nothing to critique, or a file the critique cannot read. The message is one line for
    the person; nothing is stored."""


class CritiqueArgs(ToolArgs):
    text: str = Field(
        "",
        max_length=4000,
        description="a poem to critique, pasted in (lines split by new lines or ' / '); "
        "or leave it to the piece in focus: #N, the one replied to, an upload, or the latest",
    )
    form: str | None = Field(
        None,
        description="the form a pasted poem aims for (default: the closest it meets)",
        json_schema_extra={"choices": FORM_CHOICES},
    )
    focus_on: str | None = Field(
        None, max_length=200, description="what to look at especially, e.g. the rhythm"
    )
    seed: int | None = Field(None, ge=0, le=2**31 - 1, description="the random seed")

    @field_validator("form")
    @classmethod
    def _known_form(cls, value: str | None) -> str | None:
        return None if value is None else form_name(value)


# --- what is critiqued, and what was measured -------------------------------------------------


@dataclass(frozen=True)
class Subject:
    kind: ArtifactKind
    number: int | None  # None: a poem pasted into the message
    made_from: str | None  # the prompt or description that made it; None for uploads
    text: str | None = None
    media_path: Path | None = None
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"#{self.number}" if self.number is not None else f"the {self.kind.value} you sent"


def subject_of(args: CritiqueArgs, focus: FocusArtifact | None) -> Subject:
    """The piece to critique: a poem pasted in the message, else the piece in focus."""
    pasted = pasted_poem(args.text)
    if pasted is not None:
        return Subject(ArtifactKind.POEM, None, None, text=pasted, params={"form": args.form})
    if focus is None:
        raise CritiqueRefused(ASK_WHICH)
    if focus.kind is ArtifactKind.CRITIQUE:
        raise CritiqueRefused(
            f"#{focus.number} is itself a critique. {ASK_WHICH.replace('Which', 'So which', 1)}"
        )
    made_from = _made_from(focus)
    if focus.kind is ArtifactKind.POEM:
        if not (focus.text or "").strip():
            raise CritiqueRefused(f"#{focus.number} has no text to read. {ASK_WHICH}")
        return Subject(focus.kind, focus.number, made_from, text=focus.text, params=focus.params)
    known = IMAGE_TYPES if focus.kind is ArtifactKind.IMAGE else AUDIO_TYPES
    if focus.media_path is None:
        raise CritiqueRefused(f"#{focus.number} has no {focus.kind.value} file to look at.")
    if (focus.mime_type or "").lower() not in known:
        raise CritiqueRefused(
            f"#{focus.number} is a file of type {focus.mime_type or 'unknown'}. {SUPPORTED}"
        )
    return Subject(
        focus.kind, focus.number, made_from, media_path=focus.media_path, params=focus.params
    )


def _made_from(focus: FocusArtifact) -> str | None:
    """What the piece was made from: none for an upload; else the full prompt a tool kept in
    its params (a variation's own prompt is only the change asked for), or the request."""
    if "upload" in focus.params:
        return None
    return str(focus.params.get("prompt") or focus.prompt) or None


def pasted_poem(text: str) -> str | None:
    """A poem in the text: two lines or more (by new lines or ' / '), after dropping a request
    line such as "what do you think of this:", or classical Chinese verse written on one line;
    None when the text is a request only."""
    lines = [line.strip() for line in re.split(r"\n| / ", text) if line.strip()]
    if lines and lines[0].endswith((":", "：")) and _REQUEST_WORDS.search(lines[0]):
        lines = lines[1:]
    lines = [line for line in lines if not _MENTION.fullmatch(line)]
    if len(lines) >= 2:
        return "\n".join(lines)
    verse = prosody.chinese_verse_lines(text)
    counts = {len(prosody.han_characters(line)) for line in verse}
    # "床前明月光，疑是地上霜。": clauses of one classical length; a request's clauses vary.
    if len(verse) >= 2 and len(counts) == 1 and counts <= {4, 5, 6, 7}:
        return "\n".join(verse)
    return None


def poem_grounds(subject: Subject) -> Grounds:
    poem = subject.text or ""
    found = poem_findings.find(
        poem, form=subject.params.get("form"), tone=subject.params.get("tone")
    )
    lines = poem_findings.describe(found)
    about = f" written for the request '{subject.made_from}'" if subject.made_from else ""
    repeats = ", ".join(f"{r.word} x{r.count}" for r in found.repeated_words[:3]) or "none"
    stock = ", ".join(f'"{p}"' for p, _ in found.stock_phrases) or "none"
    return Grounds(
        intro=f"A poem{about}.",
        piece=poem,
        lines=tuple(lines),
        advice=tuple(poem_findings.advice(found)),
        evidence={
            "creativity": f"stock phrases: {stock}; repeated words: {repeats}.",
            "aesthetics": f"the checker found: {found.result.summary()}.",
            "technique": f"{found.unit} per line: "
            + ", ".join(str(line.units) for line in found.lines)
            + f" ({found.form.label}).",
            "emotional impact": (
                f"the requested tone was {found.tone}; feeling itself has no measure."
                if found.tone
                else "no tone was requested and feeling itself has no measure."
            ),
        },
        measurements=found.as_params(),
    )


def image_grounds(subject: Subject, image: Image.Image, context: ToolContext) -> Grounds:
    measured = image_measures.measure(image)
    lines = image_measures.describe(measured)
    clip_line, clip_values = _clip_similarity(subject, image, context)
    lines.append(clip_line)
    about = f" made from the prompt '{subject.made_from}'" if subject.made_from else ""
    m, c = measured, measured.composition
    placed = "a flat field" if c is None else f"weight {c.placement}, balance {c.balance:.2f}"
    return Grounds(
        intro=f"An image{about}, {m.width}x{m.height} pixels.",
        piece=None,
        lines=tuple(lines),
        advice=tuple(image_measures.advice(measured)),
        evidence={
            "creativity": f"{clip_line}; originality itself has no measure.",
            "aesthetics": f"colourfulness {m.colourfulness:.0f} ({m.colourfulness_label}); "
            f"{placed}.",
            "technique": f"contrast {m.contrast:.2f}, sharpness {m.sharpness:.0f}, "
            f"{m.clipped_highlights:.0%} blown to white.",
            "emotional impact": f"brightness {m.brightness:.2f} and colourfulness "
            f"{m.colourfulness:.0f} set its mood; feeling itself has no measure.",
        },
        measurements={**measured.as_params(), **clip_values},
    )


def music_grounds(subject: Subject) -> Grounds:
    from tools.critique import audio_measures  # librosa: only music critiques pay for importing it

    assert subject.media_path is not None
    try:
        samples, rate = audio_measures.read_audio(subject.media_path)
    except audio_measures.UnreadableAudio as unreadable:
        raise CritiqueRefused(f"I can't read {subject.name}'s audio ({unreadable}).") from None
    m = audio_measures.measure(samples, rate)
    lines = audio_measures.describe(m)
    about = f" made from the description '{subject.made_from}'" if subject.made_from else ""
    tempo = "no steady pulse" if m.tempo_bpm is None else f"{m.tempo_bpm:.0f} BPM"
    strength = "none" if m.beat_strength is None else f"{m.beat_strength:.1f}"
    return Grounds(
        intro=f"A piece of music{about}, {m.duration_s:.1f} seconds long.",
        piece=None,
        lines=tuple(lines),
        advice=tuple(audio_measures.advice(m)),
        evidence={
            "creativity": f"key estimate {m.key or 'none'}, tempo {tempo}; originality itself "
            "has no measure.",
            "aesthetics": f"spectral centroid {m.spectral_centroid_hz:.0f} Hz, "
            f"loudness {m.loudness_dbfs:.1f} dBFS.",
            "technique": f"dynamic range {m.dynamic_range_db:.1f} dB, beat strength {strength}, "
            f"peak {m.peak_dbfs:.1f} dBFS.",
            "emotional impact": f"{m.key or 'no key'} at {tempo} sets its mood; feeling itself "
            "has no measure.",
        },
        measurements=m.as_params(),
    )


def _clip_similarity(
    subject: Subject, image: Image.Image, context: ToolContext
) -> tuple[str, dict[str, Any]]:
    if not subject.made_from:
        return "CLIP similarity to its prompt: none to compare with (an upload)", {}
    try:
        clip: LoadedClip = context.models.get(CLIP_ROLE)
    except ModelUnavailable as missing:
        return f"CLIP similarity to its prompt: not measured ({missing})", {}
    with clip.lock:
        value = clip.similarity(image, subject.made_from)
    word = "close" if value >= 0.28 else "loose" if value >= 0.2 else "weak"
    return (
        f"CLIP similarity to its prompt {value:.2f} (about 0.3 for a matching caption, "
        f"0.15 for an unrelated one; {word} match)",
        {"clip_similarity": round(value, 4), "clip_model": clip.spec},
    )


def load_image(subject: Subject) -> Image.Image:
    assert subject.media_path is not None
    try:
        with Image.open(subject.media_path) as opened:
            opened.seek(0)  # the first frame of an animation
            return opened.convert("RGB")
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as error:
        raise CritiqueRefused(
            f"I can't read {subject.name}'s image ({error}). {SUPPORTED}"
        ) from None


# --- what the model wrote ---------------------------------------------------------------------


@dataclass(frozen=True)
class Written:
    evidence: dict[str, str]  # criterion -> usable sentence
    suggestions: list[str]


def parse_written(reply: str, prompt: str) -> Written:
    """The usable evidence sentences and suggestions in a reply laid out as asked."""
    evidence: dict[str, str] = {}
    suggestions: list[str] = []
    in_suggestions = False
    for line in reply.splitlines():
        labelled = _LABEL.match(line)
        if labelled and not in_suggestions:
            criterion = labelled.group(1).lower()
            criterion = "emotional impact" if criterion == "emotion" else criterion
            sentence = usable_sentence(labelled.group(2), prompt, EVIDENCE_CHARS)
            if sentence and criterion not in evidence:
                evidence[criterion] = sentence
            continue
        if re.match(r"^\W*suggestions?\b", line, re.IGNORECASE):
            in_suggestions = True
            continue
        numbered = _NUMBERED.match(line)
        if numbered and in_suggestions:
            sentence = usable_sentence(numbered.group(2), prompt, SUGGESTION_CHARS)
            if sentence and _is_action(sentence) and sentence not in suggestions:
                suggestions.append(sentence)
    return Written(evidence, suggestions[:MAX_SUGGESTIONS])


def usable_sentence(text: str, prompt: str, limit: int) -> str | None:
    """The first sentence of `text` if it reads as a sentence of its own: enough real words
    (English ones found in the CMU dictionary, with function words as any sentence has, or
    Chinese characters), not a copy of the prompt, and not the layout's placeholders."""
    plain = " ".join(re.sub(r"[*_`#>]+", " ", text).split()).strip(" \"'“”")
    found = _SENTENCE.match(plain)
    sentence = found.group(1) if found else plain
    if len(sentence) > limit:
        sentence = sentence[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    if "..." in sentence[:4] or "<" in sentence or not _reads_as_language(sentence):
        return None
    if _echoes(sentence, prompt):
        return None  # a copy of the prompt says nothing the measurements did not
    return sentence


def _echoes(sentence: str, prompt: str) -> bool:
    """Most of the sentence's word triples are in the prompt: it was copied, perhaps with a
    word dropped. (Quoting a line of the poem inside a sentence of its own stays below.)"""
    triples = _triples(_words(sentence))
    return bool(triples) and len(triples & _triples(_words(prompt))) >= ECHO_SHARE * len(triples)


def _triples(words: list[str]) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + 3]) for i in range(len(words) - 2)}


def _reads_as_language(sentence: str) -> bool:
    han = prosody.han_characters(sentence)
    words = _words(sentence)
    if len(han) >= 6 and len(set(han)) >= 0.5 * len(han):
        return True
    if len(words) < 4 or len(set(words)) < 0.5 * len(words):
        return False
    known = sum(bool(pronouncing.phones_for_word(word)) for word in words)
    function = sum(word in _FUNCTION_WORDS for word in words)
    return known >= 0.6 * len(words) and function >= 0.1 * len(words)


def _words(text: str) -> list[str]:
    return [word.lower() for word in re.findall(r"[A-Za-z]+(?:'[A-Za-z]+)?", text)]


def _is_action(sentence: str) -> bool:
    words = _words(sentence)
    return bool(words) and words[0] not in _NOT_ACTIONS and not sentence.endswith("?")


# --- the critique -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Judgement:
    scores: dict[str, int]
    expected: dict[str, float]
    evidence: dict[str, str]
    evidence_from: dict[str, str]  # "model" or "measurements"
    suggestions: list[dict[str, str]]  # {"text": ..., "from": "model" | "measurements"}


def judge(
    reader: Reader, grounds: Grounds, asked: str | None, seed: int, context: ToolContext
) -> Judgement:
    def step(fraction: float, label: str) -> None:
        context.check()
        context.progress(fraction, label)

    # An operator may shorten the writing (tool setting writing_tokens) on a slow machine.
    tokens = int(context.settings.get("writing_tokens", WRITING_TOKENS))
    reading = read_piece(reader, grounds, asked, seed, writing_tokens=tokens, step=step)
    written = parse_written(reading.reply, reading.writing_prompt)
    evidence = {c: written.evidence.get(c) or grounds.evidence[c] for c in CRITERIA}
    evidence_from = {c: "model" if c in written.evidence else "measurements" for c in CRITERIA}
    return Judgement(
        reading.scores,
        reading.expected,
        evidence,
        evidence_from,
        _suggestions(written, grounds.advice),
    )


def _suggestions(written: Written, advice: Sequence[str]) -> list[dict[str, str]]:
    """The model's usable suggestions, topped up from the measurements' to at least
    TARGET_SUGGESTIONS where they have that many (never fewer than MIN_SUGGESTIONS)."""
    chosen = [{"text": text, "from": "model"} for text in written.suggestions]
    for text in advice:
        if len(chosen) >= TARGET_SUGGESTIONS:
            break
        chosen.append({"text": text, "from": "measurements"})
    if len(chosen) < MIN_SUGGESTIONS:
        raise RuntimeError("the measurements gave fewer than two suggestions")
    return chosen[:MAX_SUGGESTIONS]


def render(subject: Subject, grounds: Grounds, judgement: Judgement) -> str:
    made = f", from '{_clip(subject.made_from, 60)}'" if subject.made_from else ""
    lines = [f"Critique of {subject.name} ({subject.kind.value}{made})"]
    for criterion in CRITERIA:
        marker = "" if judgement.evidence_from[criterion] == "model" else "(measured) "
        lines.append(
            f"{criterion.capitalize()} {judgement.scores[criterion]}/10: "
            f"{marker}{judgement.evidence[criterion]}"
        )
    lines.append("")
    lines.append("Suggestions:")
    for number, suggestion in enumerate(judgement.suggestions, start=1):
        source = "" if suggestion["from"] == "model" else " (from the measurements)"
        lines.append(f"{number}. {suggestion['text']}{source}")
    body = "\n".join(lines)
    footer = "\n\nMeasured: " + _clip("; ".join(grounds.lines), FOOTER_CHARS)
    if any(source == "measurements" for source in judgement.evidence_from.values()):
        footer += "\n(measured): the model wrote nothing usable there, so the figures stand in."
    return body + footer if len(body) + len(footer) <= REPLY_CHARS else body


def critique(args: CritiqueArgs, context: ToolContext) -> ArtifactDraft:
    subject = subject_of(args, context.focus)
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    asked = args.focus_on or _request_in(args.text)
    context.progress(0.05, f"measuring the {subject.kind.value}")
    if subject.kind is ArtifactKind.IMAGE:
        image = load_image(subject)
        grounds = image_grounds(subject, image, context)
        loaded_vision: LoadedVision = context.models.get(VISION_ROLE)
        reader = vision_reader(loaded_vision, image)
    else:
        grounds = (
            poem_grounds(subject) if subject.kind is ArtifactKind.POEM else music_grounds(subject)
        )
        reader = text_reader(context.models.get(TEXT_ROLE))
    context.check()
    judgement = judge(reader, grounds, asked, seed, context)
    return ArtifactDraft(
        ArtifactKind.CRITIQUE,
        text=render(subject, grounds, judgement),
        params=_params(subject, grounds, judgement, reader, seed, asked),
        from_focus=subject.number is not None,
        note=_note(subject),
    )


def _params(
    subject: Subject,
    grounds: Grounds,
    judgement: Judgement,
    reader: Reader,
    seed: int,
    asked: str | None,
) -> dict[str, Any]:
    return {
        "critiqued": {"kind": subject.kind.value, "number": subject.number},
        "scores": judgement.scores,
        "expected_scores": {c: round(v, 3) for c, v in judgement.expected.items()},
        "evidence": judgement.evidence,
        "evidence_from": judgement.evidence_from,
        "suggestions": judgement.suggestions,
        "measurements": dict(grounds.measurements),
        "model": reader.spec,
        "seed": seed,
        "asked": asked,
        **({"poem": subject.text} if subject.number is None else {}),
    }


def _note(subject: Subject) -> str:
    return f'Say "apply suggestion 1" (or 2, 3 ...) to revise {subject.name} by one of these.'


def _request_in(text: str) -> str | None:
    """A request that is not a poem ("does the rhythm work?") tells the critic what to look
    at, unless it only asks for a critique ("critique #4")."""
    if pasted_poem(text) is not None:
        return None
    request = " ".join(_MENTION.sub("it", text).split())
    if not set(re.findall(r"\w+", request.lower())) - _ONLY_ASKING:
        return None
    return request[:200]


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


CRITIQUE_TOOL = Tool(
    CRITIQUE.name,
    CRITIQUE.description,
    ArtifactKind.CRITIQUE,
    CritiqueArgs,
    critique,
    text_arg="text",
    examples=CRITIQUE.examples,
)
