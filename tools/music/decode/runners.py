"""How a clip's steps are run: eagerly (any device), or on CUDA as one captured graph per
(rows, length bucket, text bucket, guidance, sampling) replayed each step. A graph owns its
DecodeState; a new clip of the same shapes loads into it and replays the same graph, so
the per-step cost is one graph launch instead of hundreds of kernel launches from Python."""

from __future__ import annotations

import logging
import math
import threading
import weakref
from collections import OrderedDict
from typing import Protocol

import torch
from transformers import MusicgenForConditionalGeneration

from tools.music.decode.state import DecodeState, Start
from tools.music.decode.step import DecoderStep

logger = logging.getLogger(__name__)

# Clip lengths (decoder positions) and text lengths are rounded up to these for a graph, so
# a handful of graphs serve every duration and description; masked slots cost a little work.
LENGTH_BUCKET = 256
TEXT_BUCKET = 64
# Graphs kept per model (each holds its buffers and a memory pool); the oldest goes first.
GRAPHS_KEPT = 8
_WARM_UP_STEPS = 2


class Runner(Protocol):
    state: DecodeState

    def advance(self) -> None: ...


class EagerRunner:
    """Steps run one by one; `text_capacity` (the text's length unless given) pads the text's
    keys as a graph's bucket does, so the CPU can check that padding changes nothing."""

    def __init__(
        self,
        step: DecoderStep,
        model: MusicgenForConditionalGeneration,
        start: Start,
        text_capacity: int | None = None,
    ):
        decoder = model.decoder.model.decoder
        text_capacity = text_capacity or start.text_states.shape[1]
        self.state = DecodeState.allocate(decoder, start, text_capacity)
        self.state.load(decoder, start)
        self._step = step

    def advance(self) -> None:
        self._step(self.state)


class GraphRunner:
    """One captured step. Capture runs the step a few times first on a side stream (as
    torch.cuda.graphs asks), which moves the state: load() puts every clip back at its start."""

    def __init__(self, step: DecoderStep, model: MusicgenForConditionalGeneration, start: Start):
        self._decoder = model.decoder.model.decoder
        text_capacity = bucketed(start.text_states.shape[1], TEXT_BUCKET)
        self.state = DecodeState.allocate(self._decoder, start, text_capacity)
        self.state.load(self._decoder, start)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(_WARM_UP_STEPS):
                step(self.state)
        torch.cuda.current_stream().wait_stream(side)
        self._graph = torch.cuda.CUDAGraph()
        # thread_local: other models may be working on the GPU from other threads meanwhile.
        with torch.cuda.graph(self._graph, capture_error_mode="thread_local"):
            step(self.state)

    def load(self, start: Start) -> None:
        self.state.load(self._decoder, start)

    def advance(self) -> None:
        self._graph.replay()


def bucketed(length: int, bucket: int) -> int:
    return math.ceil(length / bucket) * bucket


def uses_graphs(device: torch.device) -> bool:
    return device.type == "cuda"


_graphs: weakref.WeakKeyDictionary[
    MusicgenForConditionalGeneration, OrderedDict[tuple[object, ...], GraphRunner]
] = weakref.WeakKeyDictionary()
_graphs_lock = threading.Lock()


def graph_runner(
    model: MusicgenForConditionalGeneration,
    step: DecoderStep,
    start: Start,
    key: tuple[object, ...],
) -> GraphRunner:
    """The model's graph for these shapes, captured on first use, loaded with `start`. The
    caller holds the model's lock, so one clip at a time uses a graph's buffers."""
    shapes = (
        start.text_states.shape[0],
        start.sequence.shape[1],
        bucketed(start.text_states.shape[1], TEXT_BUCKET),
        *key,
    )
    with _graphs_lock:
        kept = _graphs.setdefault(model, OrderedDict())
        runner = kept.pop(shapes, None)
    if runner is None:
        runner = GraphRunner(step, model, start)
    runner.load(start)
    with _graphs_lock:
        kept[shapes] = runner
        while len(kept) > GRAPHS_KEPT:
            kept.popitem(last=False)
    return runner


def runner_for(
    model: MusicgenForConditionalGeneration,
    step: DecoderStep,
    start: Start,
    key: tuple[object, ...],
    use_graphs: bool,
) -> Runner:
    if use_graphs and uses_graphs(start.text_states.device):
        try:
            return graph_runner(model, step, start, key)
        except RuntimeError as exc:  # a driver or kernel that cannot be captured
            logger.warning("music: CUDA graph capture failed, decoding without it: %s", exc)
    return EagerRunner(step, model, start)
