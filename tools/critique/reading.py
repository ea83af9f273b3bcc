"""Checking what the model wrote: the evidence and suggestions that can pass as its words.

The reply is read in the layout the writing prompt asked for (tools/critique/rubric.py): one
labelled line per criterion, then numbered suggestions. A sentence is kept only if it reads
as language (enough dictionary words with the function words any sentence has, or Chinese
characters), is not a copy of the prompt and not the layout's placeholders; a suggestion must
also be an action ("Cut ...", not "The poem is nice."). What is not kept, the measurements
stand in for (tools/critique/judgement.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pronouncing

from tools.poem import prosody

MAX_SUGGESTIONS = 4
EVIDENCE_CHARS, SUGGESTION_CHARS = 170, 180
ECHO_SHARE = 0.7
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
_LABEL = re.compile(
    r"^\W*(creativity|aesthetics|technique|emotional impact|emotion)\W*\s*[:\-–—]\s*(.*)$",
    re.IGNORECASE,
)
_NUMBERED = re.compile(r"^\W*(\d{1,2})\s*[.):\-]\s*(.+)$")
_SENTENCE = re.compile(r"^(.+?[.!?。！？])(?:\s|$)")


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
