"""The poem tool's free-text rules: the PoemArgs fields a request's own words set.

The agent calls `read_poem_request` (POEM_TOOL.reads) once on a request's free text, a routed
request or the text after /poem, and lays explicit options over what it returns. Only the
decisions about what to do are read here; the subject, tone and imagery stay in the prompt for
the poem model, and the language of a new poem is that of its prompt (tools/poem/tool.py).
A #N is the agent's (agent/making/tool_args.py) and is passed over.

form: the one form the words name, by its name or an alias (forms.FORMS, forms.ALIASES):
"a haiku", "sonnet", "free verse", 五言绝句, 七绝. Longer names are read first, so 七言绝句 is
not also 绝句; words naming two forms ("a haiku or a sonnet?") set none. The bare alias
"free" is not a form in a sentence ("a poem about being free").

mode, by the first of MODE_RULES that matches:

  rule                 English                              Chinese           sets
  a stanza added       add a stanza, another stanza         加一段, 再写一节    revise, add_stanza
  a new poem, by an    write ..., compose ..., make me a .. 写一首, 来一首      new
    opening verb
  a change to the      make it ..., rewrite line 2,         把...改成, 改得,    revise
    poem               change the ending, vary the word     修改, 重写
  a new poem, by noun  a darker poem, another haiku         一首, 新诗, 另一首  new
  lines named          line 2 should ..., the second line   第二行, 第3句       revise
  a change in a word   darker, shorter, more ..., instead   更忧伤, 短一点      revise

Nothing matched: no mode, which is a new poem. Words asking for a change with no poem in
focus are the subject of a new poem (tools/poem/tool.py).

mode "picture", before MODE_RULES: words about a picture ("write a poem about this picture",
"a haiku for this photo", "a poem for #5", 为这张图写一首诗, 看图写诗, 给#5写首诗). The run
then needs a picture in focus (an upload, or the #N named) and says so in one line if there
is none (tools/from_image.py NO_PICTURE).

strict: the 平仄 pattern kept exactly ("strict tones", "a strict 五言绝句", "strictly", 严格,
合平仄, 讲平仄); "strict" describing something else ("my strict father") is not it.

voice: the person's own poems as examples ("in my voice", "in my own voice", "in my style",
像我写的那样, 用我的风格, 用我的口吻).

change_lines: with mode "revise", the lines the words name: "line 2", "lines 2 and 3",
"lines 1-3", "line two", "the second line", 第二行, 第3句. Words in parentheses are left out:
a critique's suggestion cites other lines there as evidence ("Vary the word 'pond' in line 2:
it is used 2 times (lines 1, 2).") and only line 2 is to change.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tools.contract import PIECE_MENTION
from tools.poem.forms import ALIASES, FORMS

# Aliases that name a form only where a form is expected (`form=free`), not in a sentence.
_NOT_IN_WORDS = frozenset({"free"})
_HAN = re.compile(r"[\u3400-\u9fff]")
_POEM_NOUNS = r"(?:poem|haiku|sonnet|limerick|tanka|quatrain|ode|elegy|ballad)s?"
# What a change names of the poem: "rewrite the ending", "vary the word", not "change the world".
_POEM_PARTS = (
    r"(?:it|this|that|(?:the|this|my|your) (?:poem|piece|haiku|sonnet|limerick|tanka|quatrain|"
    r"verse|verses|stanza|line|lines|ending|end|opening|beginning|start|title|first|second|"
    r"third|fourth|last|word|words|rhyme|rhymes|tone|mood|phrase|stock|image|imagery)|lines?)\b"
)


@dataclass(frozen=True)
class Rule:
    says: str  # what the words mean, for a person reading the table
    pattern: re.Pattern[str]
    fields: Mapping[str, Any] = field(default_factory=dict)


def _rule(says: str, english: str, chinese: str, **fields: Any) -> Rule:
    return Rule(says, re.compile(f"{english}|{chinese}", re.IGNORECASE), fields)


_NUMBER_WORDS = {
    word: n
    for n, words in enumerate(
        (
            ("one", "first"),
            ("two", "second"),
            ("three", "third"),
            ("four", "fourth"),
            ("five", "fifth"),
            ("six", "sixth"),
            ("seven", "seventh"),
            ("eight", "eighth"),
            ("nine", "ninth"),
            ("ten", "tenth"),
            ("eleven", "eleventh"),
            ("twelve", "twelfth"),
            ("thirteen", "thirteenth"),
            ("fourteen", "fourteenth"),
        ),
        start=1,
    )
    for word in words
}
_NUMBER = r"(?:\d{1,3}|" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + ")"
_ORDINAL = "(?:" + "|".join(w for w in _NUMBER_WORDS if w.endswith(("st", "nd", "rd", "th"))) + ")"
# "line 2" names one line (in "line 2 to 7 syllables" the 7 is not a line); "lines 2 and 3"
# or "lines 1-3" several; "the second line" (not "one line": that is a length); 第二行, 第3句.
_LINE_NAMES = re.compile(
    rf"\bline\s+(?P<one>{_NUMBER})\b"
    rf"|\blines\s+(?P<list>{_NUMBER}(?:\s*(?:,|and|&|or|-|–|to)\s*{_NUMBER})*)\b"
    rf"|\b(?P<ordinal>{_ORDINAL})\s+line\b"
    r"|第(?P<zh>[一二三四五六七八九十两\d]{1,3})[行句]",
    re.IGNORECASE,
)
_RANGE = re.compile(rf"({_NUMBER})\s*(?:-|–|to)\s*({_NUMBER})", re.IGNORECASE)
_PARENTHESES = re.compile(r"\([^()]*\)|（[^（）]*）")
_CHINESE_DIGITS = {c: n for n, c in enumerate("零一二三四五六七八九")} | {"两": 2}

MODE_RULES = (
    _rule(
        "a stanza added",
        r"\b(?:add|another|one more|a new|a further|an extra)(?:\s+[\w'-]+){0,3}?\s+stanza\b",
        r"[加添续再][写上加]?[一两]?[段节]",
        mode="revise",
        add_stanza=True,
    ),
    _rule(
        "a new poem asked for, by a verb of writing first",
        r"^(?:please\s+|(?:can|could|would) you\s+)?(?:write|compose|create|pen|"
        r"make (?:me )?(?:a|an|another)|give me)\b",
        r"^(?:请|帮我|给我|再)?(?:写|作|来|创作)一?首",
        mode="new",
    ),
    _rule(
        "a change to the poem, naming what it changes",
        r"\b(?:make|turn|bring|get) (?:it|this|that|(?:the|this|my) (?:poem|piece|verse)|line)\b"
        r"|\b(?:change|rewrite|revise|edit|fix|rework|redo|tweak|vary|polish|shorten|"
        rf"lengthen|tighten|replace|cut|remove|drop) {_POEM_PARTS}",
        r"把.{0,15}?[改换删]|改[得成为写一]|修改|重写|润色",
        mode="revise",
    ),
    _rule(
        "a new poem asked for, by what it is",
        rf"\b(?:a|an|another|new|one more)\s+(?:[\w'-]+\s+){{0,3}}?{_POEM_NOUNS}\b",
        r"(?<![这那把该])一首|新的?诗|另一首",
        mode="new",
    ),
    Rule("lines named", _LINE_NAMES, {"mode": "revise"}),
    _rule(
        "a change asked for in a word",
        r"\b(?:darker|lighter|brighter|sadder|happier|shorter|longer|simpler|funnier|gentler|"
        r"softer|warmer|colder|calmer|angrier|more|less|instead|add|remove|replace|delete)\b",
        r"更[\u4e00-\u9fff]|[短长简]一[点些]|删掉|去掉|换成|加上|不要",
        mode="revise",
    ),
)


_PICTURE_NOUNS = r"(?:picture|image|photo|photograph|painting|drawing|pic|illustration)"
_PICTURE = re.compile(
    rf"\b(?:about|for|from|of|on|describing|inspired by)\s+(?:this|that|my)\s+"
    rf"(?:\w+\s+)?{_PICTURE_NOUNS}\b"
    # "the picture", but not the idiom "the picture of health"
    rf"|\b(?:about|for|from|of|on|describing|inspired by)\s+the\s+(?:\w+\s+)?"
    rf"{_PICTURE_NOUNS}\b(?!\s+of\b)"
    rf"|\b{_POEM_NOUNS}\s+for\s+#\d"
    r"|[这那此该][张幅](?:图|画|照片|图片|相片)|看图写|[为给]\s*#\d+\s*写|图片?写一?首",
    re.IGNORECASE,
)
_STRICT = re.compile(
    r"\bstrict(?:ly)?\s+(?:tones?|tonal|pattern|rules|regulated|meter|metre|form|"
    r"五言|七言|绝句|律诗|wujue|qijue|wulv|qilv)"
    r"|\b(?:keep|keeping|follow|following|obey|with)\s+(?:the\s+)?(?:tone pattern|tones|平仄)"
    r"|\bstrictly\b|严格|[合讲守依按]平仄",
    re.IGNORECASE,
)
_VOICE = re.compile(
    r"\bin my (?:own )?(?:voice|style|manner|words)\b|\blike (?:I|i) write\b"
    r"|像我写的|用我(?:自己)?的(?:风格|口吻|语气|声音|笔调)|以我的(?:风格|口吻)",
    re.IGNORECASE,
)


def read_poem_request(text: str) -> dict[str, Any]:
    """The PoemArgs fields the words set: form, mode, change_lines, add_stanza, strict,
    voice."""
    words = " ".join(PIECE_MENTION.sub(" ", text).split())
    fields: dict[str, Any] = {}
    form = named_form(words)
    if form is not None:
        fields["form"] = form
    if _STRICT.search(words):
        fields["strict"] = True
    if _VOICE.search(words):
        fields["voice"] = True
    if _PICTURE.search(" ".join(text.split())):  # "a poem for #5": the #N is part of it
        fields["mode"] = "picture"
        return fields
    rule = next((rule for rule in MODE_RULES if rule.pattern.search(words)), None)
    if rule is not None:
        fields.update(rule.fields)
    lines = named_lines(words)
    # A stanza added after line 4 is still a stanza added, not line 4 rewritten.
    if fields.get("mode") == "revise" and not fields.get("add_stanza") and lines:
        fields["change_lines"] = lines
    return fields


def named_form(words: str) -> str | None:
    """The one form the words name, or None for none or several."""
    names = {name: name for name in FORMS} | {
        typed: name for typed, name in ALIASES.items() if typed not in _NOT_IN_WORDS
    }
    found: set[str] = set()
    for typed in sorted(names, key=len, reverse=True):
        # Han characters have no spaces around them: "写一首五言绝句" names 五言绝句.
        before, after = ("", "") if _HAN.search(typed) else (r"(?<!\w)", r"(?!\w)")
        pattern = re.compile(before + re.escape(typed) + after, re.IGNORECASE)
        if pattern.search(words):
            found.add(names[typed])
            words = pattern.sub(" ", words)  # 七言绝句 read, so not also 绝句
    return found.pop() if len(found) == 1 else None


def named_lines(words: str) -> tuple[int, ...]:
    """The line numbers the words name, in order, each once; parentheses left out."""
    while (bare := _PARENTHESES.sub(" ", words)) != words:  # innermost first: nested too
        words = bare
    numbers: list[int] = []
    for found in _LINE_NAMES.finditer(words):
        if found.group("one"):
            numbers.append(_number(found.group("one")))
        elif found.group("list"):
            numbers += _numbers_in(found.group("list"))
        elif found.group("ordinal"):
            numbers.append(_number(found.group("ordinal")))
        else:
            numbers.append(_chinese_number(found.group("zh")))
    return tuple(n for n in dict.fromkeys(numbers) if n >= 1)


def _numbers_in(listed: str) -> list[int]:
    """ "2, 3 and 5" -> [2, 3, 5]; "1-3" -> [1, 2, 3]."""
    numbers: list[int] = []
    for part in re.split(r"\s*(?:,|\band\b|&|\bor\b)\s*", listed):
        ranged = _RANGE.fullmatch(part.strip())
        if ranged:
            low, high = _number(ranged.group(1)), _number(ranged.group(2))
            numbers += range(low, min(high, low + 40) + 1)
        elif part.strip():
            numbers.append(_number(part.strip()))
    return numbers


def _number(word: str) -> int:
    return int(word) if word.isdigit() else _NUMBER_WORDS[word.lower()]


def _chinese_number(written: str) -> int:
    """第二 -> 2, 第十二 -> 12, 第3 -> 3."""
    if written.isdigit():
        return int(written)
    if "十" not in written:
        return _CHINESE_DIGITS.get(written[-1], 0)
    tens, _, ones = written.partition("十")
    return _CHINESE_DIGITS.get(tens, 1) * 10 + _CHINESE_DIGITS.get(ones, 0)
