"""Small test-only tools that follow the real contract (tools/contract.py).

`verse` makes text from its prompt (and builds on the poem in focus, as a revision would);
`sketch` makes a media file whose bytes depend on seed and prompt; `trace` inverts the image
in focus and takes uploaded images; `hum` makes a tune from the poem in focus; `stall` waits
until it is released or cancelled; `broken` always fails. None of them needs a model, so the agent's
plumbing is what the tests exercise.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Sequence
from typing import Literal

import torch
from langchain_core.messages import BaseMessage
from pydantic import Field

from agent.making.decisions import ANSWER, Decision
from tools.contract import (
    ArtifactDraft,
    ArtifactKind,
    Media,
    Tool,
    ToolArgs,
    ToolContext,
    UploadReader,
    UploadRejected,
)


class VerseArgs(ToolArgs):
    prompt: str = Field(description="what the verse is about", min_length=1, max_length=500)
    form: Literal["couplet", "haiku"] = Field("couplet", description="the verse form")
    extend: bool = Field(False, description="add to the poem in focus instead of a new one")


def write_verse(args: VerseArgs, context: ToolContext) -> ArtifactDraft:
    lines = [f"{args.form} on {args.prompt}", "the end rhymes with friend"]
    extending = args.extend and context.focus is not None and context.focus.text is not None
    if extending:
        lines = [*context.focus.text.splitlines(), f"and now: {args.prompt}"]  # type: ignore[union-attr]
    context.progress(1.0, "written")
    return ArtifactDraft(
        ArtifactKind.POEM, text="\n".join(lines), params={"form": args.form}, from_focus=extending
    )


class SketchArgs(ToolArgs):
    prompt: str = Field(description="what to draw", min_length=1)
    seed: int = Field(0, ge=0, le=2**31 - 1, description="the random seed")


def draw_sketch(args: SketchArgs, context: ToolContext) -> ArtifactDraft:
    pixels = hashlib.sha256(f"{args.seed}:{args.prompt}".encode()).digest() * 8
    return ArtifactDraft(
        ArtifactKind.IMAGE,
        media=Media(PGM_HEADER + pixels[:256], PGM),
        params={"seed": args.seed},
    )


PGM = "image/x-portable-graymap"
PGM_HEADER = b"P5 16 16 255\n"


def read_graymap(data: bytes) -> Media:
    if not data.startswith(PGM_HEADER) or len(data) != len(PGM_HEADER) + 256:
        raise UploadRejected("that is not a 16x16 graymap")
    return Media(data, PGM)


def trace(args: SketchArgs, context: ToolContext) -> ArtifactDraft:
    """The image in focus with its pixels inverted: a variation of that piece."""
    focus = context.focus
    if focus is None or focus.media_path is None:
        raise ValueError("nothing to trace")
    pixels = focus.media_path.read_bytes()[len(PGM_HEADER) :]
    inverted = bytes(255 - value for value in pixels)
    return ArtifactDraft(
        ArtifactKind.IMAGE, media=Media(PGM_HEADER + inverted, PGM), from_focus=True
    )


def contact_sheet(args: SketchArgs, context: ToolContext) -> ArtifactDraft:
    """Two sketches, each a piece of its own, shown together on one sheet."""
    singles = tuple(
        draw_sketch(args.model_copy(update={"seed": args.seed + i}), context) for i in (0, 1)
    )
    sheet = b"".join(single.media.data for single in singles if single.media)
    return ArtifactDraft(ArtifactKind.IMAGE, media=Media(sheet, PGM), parts=singles)


def hum(args: StallArgs, context: ToolContext) -> ArtifactDraft:
    """A tune 'for' the poem in focus: a new piece of another kind made from it."""
    lines = 0 if context.focus is None else len((context.focus.text or "").splitlines())
    return ArtifactDraft(ArtifactKind.MUSIC, text=f"a tune of {lines} phrases", from_focus=True)


class StallArgs(ToolArgs):
    prompt: str = Field("", description="ignored")


class Stall:
    """A tool that holds its worker until `release` is set, checking for cancellation."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Semaphore(0)
        self.cancelled_runs = 0

    def run(self, args: StallArgs, context: ToolContext) -> ArtifactDraft:
        self.started.release()
        while not self.release.wait(0.01):
            if context.cancelled.is_set():
                self.cancelled_runs += 1
                context.check()
        return ArtifactDraft(ArtifactKind.MUSIC, text="a long note")


def churn(args: VerseArgs, context: ToolContext) -> ArtifactDraft:
    """Half a second of model-like work: small torch kernels back to back, with Python
    between them, as a model's forward passes are. (Pure-Python work in a thread would
    measure CPython's GIL hand-offs, not whether the agent keeps model work off the loop.)"""
    deadline = time.perf_counter() + 0.5
    weights = torch.rand(128, 128)
    kernels = 0
    while time.perf_counter() < deadline:
        weights = torch.tanh(weights @ weights)
        kernels += 1
    return ArtifactDraft(ArtifactKind.POEM, text=f"ran {kernels} kernels")


def fail(args: VerseArgs, context: ToolContext) -> ArtifactDraft:
    time.sleep(0.01)
    raise RuntimeError("the test tool broke, as a model might")


def recall_taste(args: VerseArgs, context: ToolContext) -> ArtifactDraft:
    """A poem that lists the forms of the poems its asker kept, newest first."""
    forms = [str(kept.get("form")) for kept in context.kept]
    return ArtifactDraft(ArtifactKind.POEM, text=" ".join(forms) or "none", params={})


def judge(args: StallArgs, context: ToolContext) -> ArtifactDraft:
    """A critique that names the piece it judged."""
    focus = context.focus
    said = "nothing to judge" if focus is None else f"a fine {focus.kind} (#{focus.number})"
    return ArtifactDraft(ArtifactKind.CRITIQUE, text=said, from_focus=True)


VERSE = Tool("verse", "Write a short verse.", ArtifactKind.POEM, VerseArgs, write_verse)
SKETCH = Tool("sketch", "Draw a small picture.", ArtifactKind.IMAGE, SketchArgs, draw_sketch)
TRACE = Tool(
    "trace",
    "Invert an image.",
    ArtifactKind.IMAGE,
    SketchArgs,
    trace,
    uploads=UploadReader((PGM,), read_graymap),
)
SHEET = Tool("sheet", "Sketch twice.", ArtifactKind.IMAGE, SketchArgs, contact_sheet)
HUM = Tool("hum", "Hum a poem.", ArtifactKind.MUSIC, StallArgs, hum)
CHURN = Tool("churn", "Works the CPU.", ArtifactKind.POEM, VerseArgs, churn)
RECALL = Tool("recall", "Recall your taste.", ArtifactKind.POEM, VerseArgs, recall_taste)
BROKEN = Tool("broken", "Always fails.", ArtifactKind.POEM, VerseArgs, fail)
JUDGE = Tool("judge", "Critique a piece.", ArtifactKind.CRITIQUE, StallArgs, judge)


def stall_tool(stall: Stall, timeout_s: float = 30.0) -> Tool:
    return Tool("stall", "Waits.", ArtifactKind.MUSIC, StallArgs, stall.run, timeout_s=timeout_s)


class OutOfMemoryOnce:
    """A tool that runs out of GPU memory on its first `failures` runs, as a big model can."""

    def __init__(self, failures: int) -> None:
        self.failures, self.runs = failures, 0

    def run(self, args: VerseArgs, context: ToolContext) -> ArtifactDraft:
        self.runs += 1
        if self.runs <= self.failures:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return ArtifactDraft(ArtifactKind.IMAGE, text=f"made on try {self.runs}")

    def tool(self) -> Tool:
        return Tool("big", "Needs a lot of memory.", ArtifactKind.IMAGE, VerseArgs, self.run)


class ScriptedRouter:
    """Routes known sentences to a tool, everything else to plain chat."""

    def __init__(self, decisions: dict[str, Decision]) -> None:
        self.decisions = decisions

    async def decide(
        self, history: Sequence[BaseMessage], text: str, tools: Sequence[Tool]
    ) -> Decision:
        return self.decisions.get(text, Decision(ANSWER))
