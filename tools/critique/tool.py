"""The critique tool: scores, evidence and suggestions for a poem, an image or a piece of music,
grounded in what can be measured about it.

1. What to critique (tools/critique/subject.py): the poem pasted in (`poem`), else the piece in
   focus. The request's words were read into the fields once, by tools/critique/intents.py
   (CRITIQUE_TOOL.reads): a poem pasted into the text, and what to look at (`focus_on`). The
   run reads no words of the request.
2. Measure it (tools/critique/grounds.py): the form checker's findings for a poem; brightness,
   contrast, colourfulness, composition and CLIP similarity to its prompt for an image; tempo,
   beat strength, key, loudness, dynamic range and spectral centroid for music.
3. Score it (tools/critique/model.py, rubric.py): the model reads the rubric with those
   measurements (an image also sees the picture) and, for each criterion, the score is its
   expected value under the model's own probabilities of answering "1" to "10". That is the
   model's judgement measured directly, so it is a number in range whatever the model's size.
4. Write it (tools/critique/reading.py, judgement.py): the model gives one sentence of
   evidence per criterion and numbered suggestions in a fixed layout. A line that is empty,
   echoes the prompt or is not English-like text is not passed off as the model's: the
   measurements stand in for it, marked "(measured)", and suggestions derived from the
   measurements are marked as such.

Poems and music are judged by the critique chat model (role "critique"); images by the
vision-language model (role "vision") and CLIP (role "clip"). The critique is stored as a
`critique` artifact whose parent is the piece; its params keep the scores, evidence,
suggestions and measurements, so "apply suggestion 2" can revise the piece by one of them
(agent/making/suggestions.py).
"""

from __future__ import annotations

import secrets
from typing import Any

from pydantic import Field, field_validator

from tools.catalog import CRITIQUE
from tools.contract import ArtifactDraft, ArtifactKind, Tool, ToolArgs, ToolContext
from tools.critique.grounds import image_grounds, music_grounds, poem_grounds
from tools.critique.intents import classical_verse, read_critique_request, split_lines
from tools.critique.judgement import Judgement, judge, render
from tools.critique.model import Reader, text_reader, vision_reader
from tools.critique.rubric import Grounds
from tools.critique.subject import Subject, load_image, subject_of
from tools.models.vision import LoadedVision
from tools.poem.forms import FORM_CHOICES, form_name

TEXT_ROLE = "critique"
VISION_ROLE = "vision"


class CritiqueArgs(ToolArgs):
    text: str = Field(
        "",
        max_length=4000,
        description="what you ask: 'does the rhythm work?', or a poem pasted in; the piece is "
        "the one in focus: #N, the one replied to, an upload, or the latest",
    )
    poem: str | None = Field(
        None,
        max_length=4000,
        description="a poem to critique, pasted in (lines split by new lines or ' / '); "
        "default: the one pasted in the text, else the piece in focus",
    )
    form: str | None = Field(
        None,
        description="the form a pasted poem aims for (default: the closest it meets)",
        json_schema_extra={"choices": FORM_CHOICES},
    )
    focus_on: str | None = Field(
        None,
        max_length=200,
        description="what to look at especially, e.g. the rhythm (default: what the text asks)",
    )
    seed: int | None = Field(None, ge=0, le=2**31 - 1, description="the random seed")

    @field_validator("form")
    @classmethod
    def _known_form(cls, value: str | None) -> str | None:
        return None if value is None else form_name(value)

    @field_validator("poem")
    @classmethod
    def _one_line_each(cls, value: str | None) -> str | None:
        """One line of the poem per line: ' / ' splits lines, as does the punctuation of
        classical Chinese verse written on one line."""
        if value is None:
            return None
        lines = split_lines(value)
        if len(lines) == 1:
            lines = (classical_verse(value) or lines[0]).splitlines()
        return "\n".join(lines) or None


def critique(args: CritiqueArgs, context: ToolContext) -> ArtifactDraft:
    subject = subject_of(args.poem, args.form, context.focus)
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    context.progress(0.05, f"measuring the {subject.kind.value}")
    grounds, reader = _measured(subject, context)
    context.check()
    judgement = judge(reader, grounds, args.focus_on, seed, context)
    return ArtifactDraft(
        ArtifactKind.CRITIQUE,
        text=render(subject, grounds, judgement),
        params=_params(subject, grounds, judgement, reader, seed, args.focus_on),
        from_focus=subject.number is not None,
        note=_note(subject),
    )


def _measured(subject: Subject, context: ToolContext) -> tuple[Grounds, Reader]:
    """The piece's grounds, and the model that reads them (a vision model sees an image)."""
    if subject.kind is ArtifactKind.IMAGE:
        image = load_image(subject)
        grounds = image_grounds(subject, image, context)
        loaded_vision: LoadedVision = context.models.get(VISION_ROLE)
        return grounds, vision_reader(loaded_vision, image)
    grounds = poem_grounds(subject) if subject.kind is ArtifactKind.POEM else music_grounds(subject)
    return grounds, text_reader(context.models.get(TEXT_ROLE))


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


CRITIQUE_TOOL = Tool(
    CRITIQUE.name,
    CRITIQUE.description,
    ArtifactKind.CRITIQUE,
    CritiqueArgs,
    critique,
    text_arg="text",
    examples=CRITIQUE.examples,
    reads=read_critique_request,
)
