"""How close a poem is to what was asked for: its topic score.

The score is the cosine similarity of the request's and the poem's sentence embeddings
(the "embedding" model role, all-MiniLM-L6-v2 by default: tools/models/embedding.py), not
any overlap of words, so "a heron in the rain" and a poem of grey wings and wet reeds score
high though they share no word. In theory it runs from -1 to 1; for MiniLM and short poems:

  0.4 and above   clearly about the request (a poem on its subject: 0.35-0.65 measured)
  0.2 to 0.4      related: the subject is there, loosely, in part or only by allusion
  below 0.2       about something else (unrelated poems: -0.05-0.15 measured)

It measures what the words are about, not how well: a poem that names its subject only by
allusion ("friendship" with no word of friends) can score below 0.2 and still be on topic,
so the score ranks candidates and informs a critique; it never refuses a poem.

MiniLM was trained on English; its vocabulary holds only ~240 Han characters, so most of a
Chinese poem reads as unknown tokens to it. A text whose tokens are more than MAX_UNKNOWN
unknown is not scored (value None, with the reason) rather than given a number that would
only measure which few characters happen to be known.

`score_poems` scores several candidates against one request in one forward pass (the poem
tool ranks candidates with it); `TopicScore.as_params` is what a poem keeps in its params
and the critique shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tools.models.embedding import LoadedEmbedding

MODEL_ROLE = "embedding"
# Above this share of unknown tokens an embedding says little about the text's meaning.
MAX_UNKNOWN = 0.2
CLOSE = 0.4
RELATED = 0.2


@dataclass(frozen=True)
class TopicScore:
    value: float | None  # cosine similarity, -1..1; None: not measured (see `reason`)
    model: str  # the embedding model's spec
    reason: str | None = None  # why it was not measured

    @property
    def label(self) -> str:
        """ "close", "related" or "distant"; "not measured" without a value."""
        if self.value is None:
            return "not measured"
        return "close" if self.value >= CLOSE else "related" if self.value >= RELATED else "distant"

    def describe(self) -> str:
        """One line for a person or a critique's prompt."""
        if self.value is None:
            return f"topic score: not measured ({self.reason})"
        return (
            f"topic score {self.value:.2f} ({self.label}; cosine of the request's and the "
            f"poem's embeddings: {CLOSE} and above on topic, below {RELATED} off it)"
        )

    def as_params(self) -> dict[str, object]:
        value = None if self.value is None else round(self.value, 4)
        return {"topic": value, "topic_model": self.model, "topic_note": self.reason}


def score_poem(embedder: LoadedEmbedding, request: str, poem: str) -> TopicScore:
    """The poem's topic score against the request (its subject, as the person said it)."""
    return score_poems(embedder, request, [poem])[0]


def score_poems(embedder: LoadedEmbedding, request: str, poems: Sequence[str]) -> list[TopicScore]:
    """Each poem's topic score against one request, all embedded in one forward pass.
    Takes the model's lock: call it from a worker thread, never on the event loop."""
    if not poems:
        return []
    with embedder.lock:
        unreadable = _unreadable(embedder, request, "the request")
        reasons = [unreadable or _unreadable(embedder, poem, "the poem") for poem in poems]
        measured = [i for i, reason in enumerate(reasons) if reason is None]
        vectors = embedder.embed([request, *(poems[i] for i in measured)]) if measured else None
    values: dict[int, float] = {}
    if vectors is not None:
        cosines = vectors[1:] @ vectors[0]
        values = {i: float(c) for i, c in zip(measured, cosines, strict=True)}
    return [TopicScore(values.get(i), embedder.spec, reasons[i]) for i in range(len(poems))]


def _unreadable(embedder: LoadedEmbedding, text: str, what: str) -> str | None:
    if not text.strip():
        return f"{what} is empty"
    share = embedder.unknown_share(text)
    if share > MAX_UNKNOWN:
        return f"{embedder.spec} does not know {share:.0%} of {what}'s words"
    return None
