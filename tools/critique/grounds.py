"""What is measured about each kind of piece, as the grounds a critique stands on.

A poem: the form checker's findings per line, repeated words and stock phrases
(tools/poem/findings.py). An image: brightness, contrast, colourfulness, composition
(tools/critique/image_measures.py) and CLIP similarity to its prompt. Music: tempo, beat
strength, key, loudness, dynamic range and spectral centroid (tools/critique/audio_measures.py).
Each gives the lines the model reads, the advice they point to, and per criterion the figures
that stand in for the model's evidence when its words are unusable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PIL import Image

from tools.contract import ToolContext
from tools.critique import image_measures
from tools.critique.rubric import Grounds
from tools.critique.subject import CritiqueRefused, Subject
from tools.models.specs import ModelUnavailable
from tools.models.vision import LoadedClip
from tools.poem import findings as poem_findings
from tools.poem.topic import TopicScore

CLIP_ROLE = "clip"


def poem_grounds(subject: Subject) -> Grounds:
    poem = subject.text or ""
    found = poem_findings.find(
        poem, form=subject.params.get("form"), tone=subject.params.get("tone")
    )
    about = f" written for the request '{subject.made_from}'" if subject.made_from else ""
    repeats = ", ".join(f"{r.word} x{r.count}" for r in found.repeated_words[:3]) or "none"
    stock = ", ".join(f'"{p}"' for p, _ in found.stock_phrases) or "none"
    topic_line, topic_values = _topic_score(subject.params)
    tones_line = f" {found.result.tones.summary()}." if found.result.tones else ""
    return Grounds(
        intro=f"A poem{about}.",
        piece=poem,
        lines=(*poem_findings.describe(found), *([topic_line] if topic_line else [])),
        advice=tuple(poem_findings.advice(found)),
        evidence={
            "creativity": f"stock phrases: {stock}; repeated words: {repeats}.",
            "aesthetics": f"the checker found: {found.result.summary()}.",
            "technique": f"{found.unit} per line: "
            + ", ".join(str(line.units) for line in found.lines)
            + f" ({found.form.label}).{tones_line}",
            "emotional impact": (
                f"the requested tone was {found.tone}; feeling itself has no measure."
                if found.tone
                else "no tone was requested and feeling itself has no measure."
            ),
        },
        measurements={**found.as_params(), **topic_values},
    )


def _topic_score(params: Mapping[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """The topic score the poem tool kept in the poem's params (tools/poem/topic.py), as a
    line and measurements; nothing for a poem that has none (an upload, an older poem)."""
    if "topic" not in params:
        return None, {}
    kept = TopicScore(params.get("topic"), str(params.get("topic_model")), params.get("topic_note"))
    return kept.describe(), kept.as_params()


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
    about = f" made from the description '{subject.made_from}'" if subject.made_from else ""
    tempo = "no steady pulse" if m.tempo_bpm is None else f"{m.tempo_bpm:.0f} BPM"
    strength = "none" if m.beat_strength is None else f"{m.beat_strength:.1f}"
    return Grounds(
        intro=f"A piece of music{about}, {m.duration_s:.1f} seconds long.",
        piece=None,
        lines=tuple(audio_measures.describe(m)),
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
