"""The music tool's free-text rules: the MusicArgs fields a request's own words set.

This is the one place the music tool reads words (`Tool.reads`, tools/contract.py); its run
uses the fields only. Buttons and slash options arrive as fields and win over the words. A
#N is not read here: the agent reads it into `piece` and resolves the focus from it, so "#3"
alone asks for nothing, and whether the focus fits the mode is the run's to check.

mode, by the first rule that matches, in this order (most specific first):

  poem    a setting asked for in so many words: "set #3 to music", "set it to music",
          "put my lines to music", "sing poem #3", "sing it", "I'd love to hear #4 sung",
          "turn the sonnet into a ballad"; 给#3配乐, 为它谱曲, 给这首诗作曲, 把这首诗唱成歌
  extend  "extend #5 by 20 seconds", "continue it", "keep going", "carry on", "more of this",
          "make it longer", "add another 10 seconds"; 延长, 继续, 加长, 接着弹, 再来二十秒
  melody  the clip in focus as a tune to play anew: "use this tune for a string quartet",
          "follow my melody with a jazz trio", "this hum as a cello piece", "I hummed it",
          "from my humming"; 把这段旋律改成弦乐四重奏, 用这段旋律, 按这个调子, 我哼的
  picture the picture in focus as what the music is for: "music for this picture", "a
          soundtrack for the photo", "make music from #5"; 为这张图配乐, 给这幅画配乐, 根据这张照片
  poem    a poem named as what to use: poem, haiku, sonnet, limerick, tanka, stanza, jueju,
          "my verses", "these lines" ("a melody for the haiku", "make my haiku into a tune");
          诗, 俳句, 绝句
  rework  a change to the music in focus: "make the drums softer", "make it a bit slower",
          "another take", "redo it", "rework", "remake", "try again", "... instead",
          "change the ...", or a request that opens with more / less / add / remove / but
          or a comparative ("more reverb", "softer drums", "shorter, please");
          重新编曲, 重做, 换个风格, 再来一版, 改成, 换成, 让它更欢快一点
  none    a new piece from the description: the tool's default

Not rules, because they describe new pieces as often as changes: a comparative further in
("a darker, slower jazz piece"), "extended" or "continuous", "make the music for ...", "lyrics"
without my/the/these, a request opening with "with" or "without", and 配乐 with nothing
given it ("一段电影配乐" is a film score); "a melody" or "a tune" without this/my/the ("a
piano piece with a sad melody" is new, and read as mode "new" outright, since the agent would
otherwise take the word "melody" or "picture" for the mode of that name), and "continue this
melody" (an extension).

duration, when the words state a length: "20 seconds", "twenty seconds", "1.5 s", "a
20-second clip", "a minute", "half a minute", "2 min"; 二十秒, 20秒, 十五秒钟, 一分钟, 两分钟,
半分钟. It is what was asked; the run clamps it (tools/music/durations.py). A decade ("80s
synthwave", "1970s funk") is not a length, nor is "a second take", nor "as" (a s).
"""

from __future__ import annotations

import re
from typing import Any, Literal

WordedMode = Literal["extend", "rework", "poem", "melody", "picture"]

# --- lengths ------------------------------------------------------------------------------

_NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "ninety": 90,
    "a": 1,
    "half a": 0.5,
}
# Longest first, so "half a" is read before "a".
_NUMBER = r"\d+(?:\.\d+)?|" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True))
_UNIT = r"s|secs?|seconds?|mins?|minutes?"
_SECONDS = re.compile(rf"(?<![\w.])({_NUMBER})([\s-]*)({_UNIT})\b", re.IGNORECASE)
# "80s", "1970s": a decade when the "s" is joined to a round number over a take's length.
_DECADE = re.compile(r"(?:1[0-9]|20)[0-9]0|[5-9]0")
# "a second take", "a second verse": an ordinal, unless what follows is about time.
_ORDINAL_AFTER = re.compile(r"\s+(?!of\b|more\b|longer\b|or\b|and\b)[a-z]", re.IGNORECASE)

_HANZI_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}
_HANZI_DIGITS |= {"六": 6, "七": 7, "八": 8, "九": 9}
_HANZI_NUMBER = r"[0-9]+(?:\.[0-9]+)?|[零〇一二两三四五六七八九十半]+"
# 分钟 only: 分 alone is also "very" (十分安静).
_SECONDS_ZH = re.compile(rf"({_HANZI_NUMBER})\s*(秒钟|秒|分钟)")


def seconds_in(text: str) -> float | None:
    """A length the request states ("8 seconds of rain", "by twenty seconds", 一分钟)."""
    for found in _SECONDS.finditer(text):
        amount, gap, unit = found.group(1).lower(), found.group(2), found.group(3).lower()
        if not gap and (amount in _NUMBER_WORDS or (unit == "s" and _DECADE.fullmatch(amount))):
            continue  # "as" is not "a s", nor "80s" eighty seconds
        if amount == "a" and unit == "second" and _ORDINAL_AFTER.match(text, found.end()):
            continue
        value = float(_NUMBER_WORDS.get(amount, 0) or amount)
        return value * 60 if unit.startswith("m") else value
    for found in _SECONDS_ZH.finditer(text):
        value = _hanzi_number(found.group(1))
        if value is not None:
            return value * 60 if found.group(2) == "分钟" else value
    return None


def _hanzi_number(text: str) -> float | None:
    """二十五 -> 25, 十五 -> 15, 两 -> 2, 半 -> 0.5, 20 -> 20; None for what it cannot read."""
    if re.fullmatch(r"[0-9.]+", text):
        return float(text)
    if text == "半":
        return 0.5
    tens, ten, ones = text.partition("十")
    if not ten:
        return float(_HANZI_DIGITS[text]) if text in _HANZI_DIGITS else None
    if (tens and tens not in _HANZI_DIGITS) or (ones and ones not in _HANZI_DIGITS):
        return None
    return float((_HANZI_DIGITS[tens] if tens else 1) * 10 + (_HANZI_DIGITS[ones] if ones else 0))


# --- modes --------------------------------------------------------------------------------

_ASKED_TO_SET = re.compile(
    r"\b(?:set|put)\b[^.!?\n]{0,40}?\bto music\b"
    r"|\bturn\b[^.!?\n]{0,40}?\binto (?:an? )?(?:song|tune|melody|music|ballad)\b"
    r"|\bsing (?:it|this|that|poem|#\d+)\b"
    r"|(?:\b(?:it|this|that)|#\d+) sung\b"
    r"|(?:给|为|替)\s*(?:它|这首|这篇|这段|#\d+)[^，。,.]{0,6}?"
    r"(?:配乐|谱曲|作曲|配上音乐|配首曲子|写首歌)"
    r"|唱成歌|谱成(?:曲|歌)|唱出来",
    re.IGNORECASE,
)
_EXTEND = re.compile(
    r"\b(?:extend|extending|lengthen|continue|keep going|keep it going|carry on)\b"
    r"|\bmore of (?:it|this|that)\b"
    r"|\bmake (?:it|this|that|the [\w']+) longer\b|^\W*longer\b"
    rf"|\b(?:add|another)\s+(?:another\s+)?(?:(?:{_NUMBER})[\s-]*)?(?:more\s+)?(?:{_UNIT})\b"
    rf"|延长|继续|加长|续上|接着(?:弹|奏|写|来|往下)|再长一点|再(?:来|加)\s*(?:{_HANZI_NUMBER})"
    r"\s*(?:秒|分钟)",
    re.IGNORECASE,
)
_TUNE = r"(?:tune|melody|hum|humming|whistling|theme)"
_MELODY = re.compile(
    r"\b(?:use|using|follow|following|keep|keeping|take|taking|play|playing)\b "
    rf"(?:this|that|my|the) {_TUNE}\b"
    rf"|\b(?:this|that|my|the) {_TUNE} (?:for|as|into|in|on|with)\b"
    r"|\b(?:i|i've|i have|i just|my|from my) hum(?:med|ming)?\b"
    r"|(?:把|用|按|照着?|跟着|拿)\s*(?:这段|这个|我的|这首)?\s*(?:旋律|调子|曲调|哼唱)|我哼的",
    re.IGNORECASE,
)
_PICTURE = r"(?:picture|image|photo|photograph|painting|drawing|illustration|artwork)"
_FOR_A_PICTURE = re.compile(
    rf"\b(?:for|from|of|to|about|with|matching|match) (?:this|that|the|my) {_PICTURE}\b"
    r"|\bmusic (?:from|for) #\d+"
    r"|(?:这张|这幅|那张|那幅)\s*(?:图片?|画|照片|相片)|(?:为|给)\s*(?:图片?|画|照片)\s*配乐",
    re.IGNORECASE,
)
_POEM_NAMED = re.compile(
    r"\b(?:poem|poems|poetry|haiku|haikus|sonnet|sonnets|stanza|stanzas|limerick|limericks|"
    r"tanka|jueju)\b"
    r"|\b(?:my|the|this|that|these|those|your) (?:lines|verse|verses|lyrics)\b"
    r"|诗|俳句|绝句",
    re.IGNORECASE,
)
_COMPARATIVES = (
    "softer|louder|faster|slower|darker|brighter|happier|sadder|calmer|heavier|lighter|"
    "quieter|gentler|warmer|colder|shorter|simpler|richer|fuller|deeper|higher|lower|"
    "smoother|sweeter|livelier|punchier"
)
_CHANGE = re.compile(
    r"\bmake (?:it|this|that|them|this one|that one|the(?: [\w']+){1,2}) "
    rf"(?:more|less|a bit|a little|slightly|much|even|sound|feel|{_COMPARATIVES})\b"
    r"|\b(?:rework|redo|re-do|remake|instead|try again|again but|another (?:take|version|go)|"
    r"one more take|a (?:new|second) take|change (?:it|this|that|the)|apply (?:the )?suggestion)\b"
    rf"|^\W*(?:more|less|add|remove|but|no more|{_COMPARATIVES})\b"
    r"|重新编曲|重编|重做|重来|重新做|换个风格|换种风格|换一种风格|再来一版|再来一个版本|"
    r"另一个版本|另一版|改成|换成|(?:让|使|把)(?:它|这首|这段)[^，。,.]{0,8}更",
    re.IGNORECASE,
)
# First match wins: asking in so many words for a setting beats "continue", which beats a
# tune or a picture named as the source ("use this tune ... instead" is a melody), which beat
# a poem merely named, which beats the loosest, a change ("make the haiku song softer" is
# rarer than "make my haiku into a song").
MODE_RULES: tuple[tuple[WordedMode, re.Pattern[str]], ...] = (
    ("poem", _ASKED_TO_SET),
    ("extend", _EXTEND),
    ("melody", _MELODY),
    ("picture", _FOR_A_PICTURE),
    ("poem", _POEM_NAMED),
    ("rework", _CHANGE),
)


def mode_in(text: str) -> WordedMode | None:
    """The mode the request's words ask for; None for a new piece."""
    stripped = text.strip()
    return next((mode for mode, rule in MODE_RULES if rule.search(stripped)), None)


# The mode names "melody" and "picture" are also words of plain descriptions ("a sad violin
# melody", "paint a picture of the sea"): the agent reads a mode named outright as asked for
# (agent/making/tool_args.py named_value), so where no rule above matched, these words say
# "new" here, and the tool's reader wins over that generic one.
_MODE_NAMED_AS_A_WORD = re.compile(r"(?<!\w)(?:melody|picture)(?!\w)", re.IGNORECASE)


def read_music_request(text: str) -> dict[str, Any]:
    """The MusicArgs fields the words set: `mode` and `duration`, each only when said (a
    description naming a melody or a picture says "new")."""
    fields: dict[str, Any] = {}
    mode = mode_in(text)
    if mode is not None:
        fields["mode"] = mode
    elif _MODE_NAMED_AS_A_WORD.search(text):
        fields["mode"] = "new"
    seconds = seconds_in(text)
    if seconds is not None:
        fields["duration"] = seconds
    return fields
