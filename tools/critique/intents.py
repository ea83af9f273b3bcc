"""The critique tool's free-text rules: the CritiqueArgs fields a request's own words set.

The agent calls `read_critique_request` (CRITIQUE_TOOL.reads) once on a request's free text
and lays explicit options over what it returns. The run reads no words: it critiques
`poem` when one is given, else the piece in focus, looking especially at `focus_on`.
A #N is the agent's (agent/making/tool_args.py); here it only reads as "it" (它): "does the
rhythm of #8 work?" asks about "the rhythm of it".

poem, when the words are the work itself rather than a request about the piece in focus:
  - two lines or more (split by new lines or " / "), after words that ask, up to a first
    colon ("what do you think of this:", "focus on the rhythm:", 评价一下这首诗：), and
    without any line that is only a #N;
  - or classical Chinese verse on one line, its clauses of one length from 4 to 7 characters
    ("床前明月光，疑是地上霜。..."): a request's clauses vary.

focus_on, what the request says to look at, by the first rule that matches:
  - named after a phrase that points: "focus on the rhythm" -> "the rhythm", "look at the
    colours", "pay attention to the ending", "especially the rhyme"; 重点看节奏 -> "节奏",
    着重评价意境, 特别注意用词;
  - else a request that says more than asking for a critique is passed on whole, up to
    FOCUS_CHARS ("does the rhythm of #8 work?", "be harsh");
  - a request that only asks ("critique #4", "judge my haiku", "what do you think of this?",
    评价一下这首诗, 点评一下这幅画, 你觉得#3怎么样) sets nothing: every word of it is an asking
    word (ONLY_ASKING; in Chinese, what is left of it once the ONLY_ASKING_ZH phrases are
    taken out, longest first, is less than two characters).
"""

from __future__ import annotations

import re
from typing import Any

from tools.contract import PIECE_MENTION
from tools.poem import prosody

FOCUS_CHARS = 200
# Words of a request that asks for a critique and says nothing about what to look at.
ONLY_ASKING = frozenset(
    re.findall(
        r"\w+",
        "critique review rate judge give me some notes feedback on of the my this that it please "
        "what do you think about piece poem image picture painting song music track work a an "
        "haiku sonnet limerick tanka quatrain verse honest honestly frankly take look at have "
        "can could would your thoughts opinion is how",
    )
)
# Whole words only: a single 图 or 画 would also be taken out of 构图 or 画面.
ONLY_ASKING_ZH = tuple(
    re.findall(
        r"\S+",
        """你觉得 怎么样 如何 评价 点评 评论 批评 意见 建议 看看 一下 帮我 给点 给我 请 吧 呢 吗 的
    它 这首诗 这幅画 这张画 这张图 这幅图 这首歌 这段音乐 这首曲子 这首 这幅 这张 这段 这个 我的诗
    我的画 我的歌 诗歌 画作 歌曲 图片 作品 音乐""",
    )
)
# Words that ask, before a pasted poem.
_ASKS = re.compile(
    r"\b(critique|review|feedback|thoughts|opinion|judge|rate|notes?|think|comment|focus|look)\b"
    r"|评价|点评|评论|意见|觉得|怎么样|看看|重点",
    re.IGNORECASE,
)
_POINTS_AT = re.compile(
    r"\b(?:focus(?:ing)?\s+on|look(?:ing)?\s+(?:closely\s+|especially\s+)?at|"
    r"pay(?:ing)?\s+attention\s+to|concentrate\s+on|with\s+an\s+eye\s+(?:on|to)|"
    r"especially|particularly|in\s+terms\s+of)\s+(?P<what>[^.?!;:\n]+)"
    r"|(?:重点|着重|特别|尤其|主要)(?:看看|看|评价|关注|注意|说说|讲讲)?(?P<what_zh>[^，。？！；,.?!;\n]+)"
    r"|(?:关注|注意)(?P<what_zh2>[^，。？！；,.?!;\n]+)",
    re.IGNORECASE,
)
_HEAD = re.compile(r"(?P<head>[^\n:：]*)[:：](?P<rest>.*)", re.DOTALL)
_CLASSICAL_LENGTHS = {4, 5, 6, 7}


def read_critique_request(text: str) -> dict[str, Any]:
    """The CritiqueArgs fields the words set: poem, or focus_on, or neither."""
    fields: dict[str, Any] = {}
    request, poem = split_pasted(text)
    if poem is not None:
        fields["poem"] = poem
    focus = focus_in(request)
    if focus is not None:
        fields["focus_on"] = focus
    return fields


def pasted_poem(text: str) -> str | None:
    """The poem pasted in the text, one line per line; None when the text is a request only."""
    return split_pasted(text)[1]


def split_pasted(text: str) -> tuple[str, str | None]:
    """The request in the text, and the poem pasted after it (None: there is none, and the
    whole text is the request)."""
    request, body = _asking_head(text)
    lines = [line for line in split_lines(body) if not PIECE_MENTION.fullmatch(line)]
    if len(lines) >= 2:
        return request, "\n".join(lines)
    verse = classical_verse(body)
    return (request, verse) if verse is not None else (text, None)


def _asking_head(text: str) -> tuple[str, str]:
    """The words before a first colon when they ask ("what do you think of this:"), and the
    rest; else no request and the whole text."""
    head = _HEAD.match(text)
    if head is not None and _ASKS.search(head.group("head")):
        return head.group("head").strip(), head.group("rest")
    return "", text


def split_lines(text: str) -> list[str]:
    """A pasted poem's lines: split by new lines or " / ", blank ones left out."""
    return [line.strip() for line in re.split(r"\n| / ", text) if line.strip()]


def classical_verse(text: str) -> str | None:
    """Chinese verse written on one line, one clause a line, when its clauses are of one
    classical length."""
    verse = prosody.chinese_verse_lines(text)
    counts = {len(prosody.han_characters(line)) for line in verse}
    if len(verse) >= 2 and len(counts) == 1 and counts <= _CLASSICAL_LENGTHS:
        return "\n".join(verse)
    return None


def focus_in(request: str) -> str | None:
    """What the request asks the critic to look at, or None when it only asks for one."""
    it = "它" if prosody.han_characters(request) else "it"
    request = " ".join(PIECE_MENTION.sub(it, request).split())
    pointed = _POINTS_AT.search(request)
    if pointed is not None:
        what = next(group for group in pointed.groups() if group is not None).strip()
        if not _only_asking(what):
            return what[:FOCUS_CHARS]
    return None if _only_asking(request) else request[:FOCUS_CHARS]


def _only_asking(request: str) -> bool:
    if prosody.han_characters(request):
        for phrase in sorted(ONLY_ASKING_ZH, key=len, reverse=True):  # 这首诗 before 诗
            request = request.replace(phrase, "")
        return len(prosody.han_characters(request)) < 2 and not re.search(r"[A-Za-z]{3}", request)
    return not set(re.findall(r"\w+", request.lower())) - ONLY_ASKING
