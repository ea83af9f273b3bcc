"""Line endings that rhyme: the last word chosen among real rhymes by the model's own scores.

A small model asked for "a line ending with a word that rhymes with 'rain'" almost never
delivers one. Instead of hoping, constrain the last word: keep the start of a line the model
wrote, and let the model pick its final word from the words that do rhyme — the rhymes of the
anchor word (CMU dictionary via `pronouncing`; for Chinese, characters of the same 中华新韵
group) that are one token in the model's vocabulary (which also keeps out rare words and names
the tokenizer never learnt whole), and whose syllables fit the line's count. One batched
forward pass scores every kept start; the best-scoring rhymes become candidate lines, which
the form checker then judges like any other.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pronouncing
import torch

from tools.models.text import LoadedCausalLM
from tools.poem import prosody

# Word starts scored per line, and candidate lines kept per start: enough choice for the
# checker, few enough that one forward pass stays cheap on a CPU.
MAX_STARTS = 12
ENDINGS_PER_START = 3
_STRIP = ",;:—-.!?\"'“”"


@dataclass(frozen=True)
class Rhyme:
    token_id: int
    text: str  # as it is appended: " word" in English, "字" in Chinese
    units: int  # syllables (English) or characters (Chinese)


def rhymed_lines(
    loaded: LoadedCausalLM,
    messages: Sequence[Mapping[str, str]],
    drafts: Sequence[str],
    anchor: str,
    wanted: tuple[int, int] | None,
    lang: str,
) -> list[str]:
    """Lines that start as one of `drafts` and end on a rhyme of `anchor`, best first."""
    rhymes = _rhymes(loaded, anchor, lang)
    starts = _starts(drafts, rhymes, wanted, lang)[:MAX_STARTS]
    if not rhymes or not starts:
        return []
    scores = _next_token_scores(loaded, messages, [start for start, _ in starts])
    scored: list[tuple[float, str]] = []
    for row, (start, fitting) in zip(scores, starts, strict=True):
        best = sorted(fitting, key=lambda rhyme: -float(row[rhyme.token_id]))
        scored += [(float(row[r.token_id]), start + r.text) for r in best[:ENDINGS_PER_START]]
    return [line for _, line in sorted(scored, key=lambda item: -item[0])]


def _starts(
    drafts: Sequence[str], rhymes: Sequence[Rhyme], wanted: tuple[int, int] | None, lang: str
) -> list[tuple[str, list[Rhyme]]]:
    """Each word-start of each draft line, with the rhymes that would bring it to the line's
    count (all rhymes where the form counts nothing)."""
    found: dict[str, list[Rhyme]] = {}
    for draft in drafts:
        for start, units in _prefixes(draft, lang):
            fitting = [r for r in rhymes if wanted is None or _fits(units, r.units, wanted)]
            if fitting and start not in found:
                found[start] = fitting
    return list(found.items())


def _fits(start_units: frozenset[int], word_units: int, wanted: tuple[int, int]) -> bool:
    return any(wanted[0] <= units + word_units <= wanted[1] for units in start_units)


def _prefixes(line: str, lang: str) -> list[tuple[str, frozenset[int]]]:
    """The line's starts, longest first, each with its possible unit counts."""
    if lang == "zh":
        characters = prosody.han_characters(line)
        return [
            ("".join(characters[:n]), frozenset({n})) for n in range(len(characters) - 1, 0, -1)
        ]
    words = line.split()
    starts = [" ".join(words[:n]).rstrip(_STRIP) for n in range(len(words) - 1, 0, -1)]
    return [(start, prosody.line_syllable_options(start)) for start in starts if start]


def _next_token_scores(
    loaded: LoadedCausalLM, messages: Sequence[Mapping[str, str]], starts: Sequence[str]
) -> torch.Tensor:
    """Log-probabilities of the next token after each start of the reply, one row per start."""
    tokenizer = loaded.tokenizer
    chat = tokenizer.apply_chat_template(
        [dict(message) for message in messages], add_generation_prompt=True, tokenize=False
    )
    batch = tokenizer(
        [chat + start for start in starts],
        return_tensors="pt",
        padding=True,
        padding_side="left",
        add_special_tokens=False,
    )
    inputs = {name: tensor.to(loaded.device) for name, tensor in batch.items()}
    with loaded.lock, torch.inference_mode():
        logits = loaded.model(**inputs).logits[:, -1, :]
    return torch.log_softmax(logits.float(), dim=-1).cpu()


def _rhymes(loaded: LoadedCausalLM, anchor: str, lang: str) -> list[Rhyme]:
    vocabulary = _single_token_words(loaded.tokenizer)
    if lang == "zh":
        return [
            Rhyme(token_id, text, 1)
            for text, token_id in vocabulary.items()
            if len(text) == 1
            and prosody.han_characters(text)
            and text != anchor
            and prosody.chinese_rhyme(text, anchor)
        ]
    rhymes = []
    for word in pronouncing.rhymes(anchor.lower()):
        token_id = vocabulary.get(" " + word)
        # pronouncing also lists letters ("d" rhymes with "free") and names; a line needs a word.
        if token_id is not None and len(word) > 1 and word.isalpha() and word != anchor.lower():
            rhymes.append(Rhyme(token_id, " " + word, min(prosody.syllable_options(word))))
    return rhymes


@functools.lru_cache(maxsize=4)
def _single_token_words(tokenizer: object) -> dict[str, int]:
    """Each vocabulary entry as the text it decodes to: " rain" -> its id, "雨" -> its id."""
    vocabulary = tokenizer.get_vocab()  # type: ignore[attr-defined]
    ids = sorted(vocabulary.values())
    texts = tokenizer.batch_decode([[i] for i in ids])  # type: ignore[attr-defined]
    return {text: token_id for token_id, text in zip(ids, texts, strict=True)}
