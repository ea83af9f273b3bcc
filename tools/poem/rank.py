"""Choosing among the constrained candidates: the form first, then closeness to the request.

The form checker's score decides first (in strict mode missed tones count against it); among
the candidates that meet as much of the form as the best, the topic score decides: the
cosine of the request's and the poem's sentence embeddings (tools/poem/topic.py, the
"embedding" role). Where no embedding model is given (a test's double that serves one model
for every role, a profile without the role) the form alone decides and the poem keeps no
topic score; where the model cannot read the language (MiniLM and Chinese) the score says
"not measured" and why, and the first of the best by form is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tools.contract import ModelSource
from tools.models.embedding import LoadedEmbedding
from tools.models.specs import ModelUnavailable
from tools.poem.forms import Form, check
from tools.poem.topic import MODEL_ROLE, TopicScore, score_poems


@dataclass(frozen=True)
class Ranked:
    poem: str
    topic: TopicScore | None  # None: no embedding model, so not scored at all


def embedder_of(models: ModelSource) -> LoadedEmbedding | None:
    """The embedding role's model, or None where there is none to have."""
    try:
        model = models.get(MODEL_ROLE)
    except (LookupError, ModelUnavailable):
        return None
    return model if isinstance(model, LoadedEmbedding) else None


def best_poem(
    candidates: Sequence[str],
    form: Form,
    request: str,
    embedder: LoadedEmbedding | None,
    *,
    strict: bool = False,
) -> Ranked:
    """The candidate that meets most of its form, and of those the closest to the request."""
    scores = [check(poem, form, strict_tones=strict).score for poem in candidates]
    top = max(scores)
    best = [poem for poem, score in zip(candidates, scores, strict=True) if score == top]
    if embedder is None:
        return Ranked(best[0], None)
    topics = score_poems(embedder, request, best)
    chosen = max(range(len(best)), key=lambda i: _measured(topics[i]))
    return Ranked(best[chosen], topics[chosen])


def _measured(topic: TopicScore) -> float:
    # Unmeasured scores rank below every measured one; max() keeps the first of equals.
    return topic.value if topic.value is not None else float("-inf")
