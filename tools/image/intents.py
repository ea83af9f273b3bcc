"""The image tool's free-text rules: the one place its words are read (IMAGE_TOOL.reads).

`read_image_request(text)` returns the ImageArgs fields a request's words set; the run
function reads only those fields and the piece in focus. The rules, English and Chinese, are
tried in this order and the first that matches decides:

  styled      a new picture in the style of the picture in focus (attached, or #N): "in the
              style of this", "a fox in the style of #12", "in this picture's style",
              "like this style" 照这张图的风格, 按#12的风格, 用这幅画的风格, 模仿这张图的画风
  cover       a cover picture for the clip in focus: "a cover for this clip", "make a
              picture for this music", "album art for #4 in watercolor", "make a cover"
              为这段音乐画一张封面, 给这首歌配个封面, 把这段音乐画出来, 专辑封面
  upscale     "upscale #3", "enlarge it", "higher resolution", "hi-res"
              放大, 高清, 提高分辨率, 超分
  vary        "a variation of #3", "another take", "another version", "re-roll", "a new seed",
              "try again"
              再来一个变体, 换个种子, 变体, 重新生成
  illustrate  a picture of the poem in focus: "illustrate my poem", "draw the haiku",
              "a painting of these lines", "illustrate it", "draw this in ink"
              把这首诗画出来, 画出这首诗的意境, 为我的诗配一幅画
  refine      a change to the image in focus: "make it darker", "same but at night",
              "add a moon", "remove the boat", an opening comparative ("darker", "brighter
              and warmer"), or a request that is only one short phrase opening with
              in/with/at/as ("at sunset", "in watercolor")
              把它画得更暗一些, 更亮, 加上一轮明月, 去掉那棵树
  (none)      anything else is a new picture of what it says: {} ("in watercolor, a fox"),
              or {"mode": "new"} when it says "cover" without asking for one ("a book cover
              with a dragon"), since a mode's bare name would otherwise be read as the mode

A #N names the piece to build on: the agent reads it (ToolArgs.piece), and it decides nothing
here, so "a dog, like #3" is a new picture even with a poem in focus. For vary, refine and
cover the instruction is the prompt, with the #N and the operation's own words taken out ("a
variation of #3 at sunset" -> {"mode": "vary", "prompt": "at sunset"}; a cover's is what it
adds to the clip's description). Upscale and illustrate set only the mode: an upscale keeps
its prompt, and a picture of a poem takes the style named at the end of the request from the
whole prompt (tools/from_poem.py).

Before those rules, a trained style of the person's own, named as theirs, is read into
`style_name` and its words taken out of the prompt; the rest of the request is read as above:
"a fox in my watercolor style", "in my style 'ink'", "with my own ink-wash style",
用我的水彩风格画一只猫, 按我的「水墨」画风 ("a variation of #3 in my ink style" -> vary, wearing
"ink"). Only "my <name> style" forms: "in watercolor style" stays words of the prompt.
"""

from __future__ import annotations

import re
from typing import Any

from tools.contract import PIECE_MENTION

# Words that mean "the piece in focus" after a verb: "vary it", "illustrate this".
_IT = r"(?:it|this|that|them|this one|that one)"
_POEM_NOUNS = (
    r"(?:poems?|verses?|haikus?|sonnets?|stanzas?|limericks?|tankas?|jueju|lyrics|odes?|"
    r"ballads?|couplets?|quatrains?)"
)
_COMPARATIVES = (
    r"(?:darker|lighter|brighter|warmer|cooler|colder|softer|sharper|bigger|smaller|happier|"
    r"sadder|moodier|calmer|simpler|busier|gloomier|sunnier|dreamier)"
)

UPSCALE = re.compile(
    r"\b(?:upscale[ds]?|upscaling|up-?res|enlarge[ds]?|higher[- ]resolution|hi-?res)\b"
    r"|放大|高清|提高分辨率|超分",
    re.IGNORECASE,
)
VARY = re.compile(
    r"\b(?:variations?|vary|variants?|another (?:version|take|one)|re-?roll(?:ed)?|"
    r"(?:a )?(?:new|different|another) seed|(?:try|do it|once) (?:again|more))\b|^again\b"
    r"|变体|变种|换个种子|换一个种子|换种子|再来一[个张次幅]|重新生成|重画",
    re.IGNORECASE,
)
ILLUSTRATE = re.compile(
    # the verb with no other subject: "illustrate", "illustrate in ink"; or with the piece in
    # focus as its only object: "paint it", "draw this in ink", "a picture of this"
    rf"(?:\billustrate|\b(?:draw|paint|sketch|picture|illustrate)\s+{_IT}"
    rf"|\b(?:picture|painting|drawing|image|illustration|sketch) (?:of|for) {_IT})"
    r"(?=\s*$|\s*[,.;:!?]|\s+(?:in|as|with|using|please)\b)"
    # a poem pointed at: "my poem", "the haiku above", "your last sonnet", "paint poem"
    rf"|\b(?:(?:my|the|this|that|these|those|your|our)\s+(?:\w+\s+)?"
    rf"|(?:draw|paint|illustrate|picture|sketch)\s+){_POEM_NOUNS}\b"
    r"|\b(?:these|those|my|your|the poem's) lines\b"
    r"|(?:这|那|我的|你的|上面的|刚才的|刚写的|我写的|你写的)一?(?:首|几句|几行|些|段)?"
    r"(?:诗|诗句|诗歌|俳句|绝句|律诗|歌词|十四行诗)"
    r"|诗(?:的|中的)?意境|首诗",
    re.IGNORECASE,
)
REFINE = re.compile(
    r"^(?:please\s+)?(?:"
    r"make (?:it|this|them|everything)\b|(?:the )?same\b|but\b|now\b|more\b|less\b|"
    r"add\b|remove\b|change\b|replace\b|turn (?:it|this)\b|give (?:it|this)\b|without\b|"
    rf"refine\b|edit\b|fix\b|keep\b|{_COMPARATIVES}\b)"
    r"|^请?(?:把它|把这张图?|把这幅画?|把画面?|把图片?|让它|让画面|使它|给它)"
    r"|^请?再?(?:更|稍微|加上|加个|加一|加点|添加|添上|去掉|删掉|去除|拿掉|换成|改成|改为|"
    r"变成|不要|同样|一样)"
    r"|^(?:画|弄|调|变)得更",
    re.IGNORECASE,
)
# A request that is only a short phrase opening with a preposition reads as a change to the
# image in focus ("at sunset", "in watercolor"); one that goes on to a subject is a new
# picture ("in watercolor, a fox").
SHORT_CHANGE = re.compile(r"^(?:in|with|at|as|under|during)\s+[^,;:]+$", re.IGNORECASE)
SHORT_CHANGE_WORDS = 6

# A style taken from a picture pointed at ("this", "that one", or the #N already taken out,
# which leaves "of" at the end): "in the style of van gogh" names a style in words instead.
_POINTED = (
    r"(?:this|that|it|this one|that one|(?:this|that|the) (?:picture|image|photo|one|painting))"
)
STYLED = re.compile(
    rf"\b(?:in|with) (?:the )?(?:same )?style of(?: {_POINTED})?(?=\s*$|\s*[,.;:!?])"
    rf"|\b(?:in|with) {_POINTED}(?:'s| picture's| image's)? style\b"
    rf"|\b(?:like|match) {_POINTED}(?:'s)? style\b"
    r"|(?:照|按|按照|用|参考|模仿|仿照|学)(?:着)?\s*(?:这|那)?(?:一)?(?:张|幅|个)?(?:图|画|图片|照片)?"
    r"(?:的)?(?:风格|画风)",
    re.IGNORECASE,
)
# What is left of a styled request once the style words are out is what to show.
_STYLE_WORDS = re.compile(
    rf"{STYLED.pattern}|\bdraw\b|\bpaint\b|\bmake\b"
    r"|^(?:请)?(?:画|生成|做)(?:一[张幅个])?|画(?:一[张幅个])?",
    re.IGNORECASE,
)

# A cover for the clip in focus: a cover noun pointed at the music (or at the #N taken out,
# which leaves "for" before what follows), a request that is only a cover, or a picture
# pointed at the music.
_MUSIC = r"(?:music|clip|song|tune|track|melody|soundtrack|audio|piece of music)s?"
_AT_MUSIC = rf"(?:my|the|this|that|your|our)\s+(?:\w+\s+)?{_MUSIC}\b"
_COVER_NOUN = (
    r"(?:(?:album|record|single)\s+(?:cover|art(?:work)?)"
    r"|cover(?:\s+(?:art(?:work)?|image|picture))?)"
)
_ENDS = r"(?=\s*$|\s*[,.;:!?]|\s+(?:in|as|with|using|please)\b)"
_ZH_MUSIC = r"(?:音乐|曲子|乐曲|歌曲|旋律|配乐|(?<!诗)歌(?!词))"
_ZH_AT = r"(?:请)?(?:为|给|替)?(?:这|那|我的|你的|刚才的|上面的)?一?(?:段|首|支|个)?"
COVER = re.compile(
    rf"\b{_COVER_NOUN}\s+(?:for|of|to)\s+{_AT_MUSIC}"
    rf"|\b{_COVER_NOUN}\s+(?:for|of|to)(?:\s+{_IT})?{_ENDS}"
    rf"|^(?:please\s+)?(?:(?:make|paint|draw|create|design|give (?:it|this))\s+(?:me\s+)?)?"
    rf"(?:an?\s+|the\s+)?{_COVER_NOUN}{_ENDS}"
    rf"|\b(?:picture|painting|drawing|image|illustration|sketch|artwork|art)s?\s+"
    rf"(?:for|of|to go with|to match)\s+{_AT_MUSIC}"
    rf"|\b(?:draw|paint|illustrate|picture|sketch|visuali[sz]e)\s+{_AT_MUSIC}"
    r"|(?:专辑|唱片|单曲)封面"
    rf"|{_ZH_AT}{_ZH_MUSIC}[^，。,.!?！？]{{0,8}}?(?:封面|配一?[张幅个]?(?:图|画|插图))"
    rf"|(?:请)?把(?:这|那)?(?:段|首|支)?{_ZH_MUSIC}画(?:出来|成)"
    r"|^(?:请)?(?:为|给)?(?:它|这段|这首)?(?:画|做|设计|配)一?[张幅个]?封面",
    re.IGNORECASE,
)
# The word alone, as in "a book cover" or "taking cover": not a request for one.
_COVER_WORD = re.compile(r"(?<!\w)cover(?!\w)", re.IGNORECASE)
# What opens a cover request without saying what to show: taken off what is left of it.
_COVER_OPENING = re.compile(
    r"^(?:(?:please|make|paint|draw|create|design|give (?:it|this)|me|an?|the)\s+)+",
    re.IGNORECASE,
)

# Words that say which operation, not what to change: taken out of an instruction.
_FILLER = re.compile(
    rf"\b(?:please|(?:an? )?(?:variations?|variants?)(?: (?:of|on))?(?: {_IT})?|"
    rf"vary(?: {_IT})?|another (?:version|take|one)(?: of)?(?: {_IT})?|re-?roll(?: {_IT})?|"
    rf"(?:a )?(?:new|different|another) seed|(?:try|do it) again|"
    rf"upscale(?: {_IT})?|refine(?: {_IT})?|(?:the )?same(?: image| picture| one)?(?: but)?)\b"
    r"|^请?把它|请|再来一[个张次幅]变体|再来一[个张次幅]|换一?个种子|换种子|的?变体|重新生成",
    re.IGNORECASE,
)
_EDGES = " ,.:;!-，。：；！、"


# A trained style named as the person's own: "in my watercolor style", "in my style 'ink'",
# "with my style called ink", 用我的水彩风格. The name is at most four words (or twelve
# characters, in Chinese); "in my style" or "in my own style", with no name, names none.
_OPEN_QUOTE, _CLOSE_QUOTE = "[\"'“‘「『]", "[\"'”’」』]"
_NAME_WORDS = r"[^\W_][\w'-]*(?: [^\W_][\w'-]*){0,3}?"
PERSONAL_STYLE = re.compile(
    rf"\b(?:in|with|using) my (?:own )?(?!own style){_OPEN_QUOTE}?(?P<before>{_NAME_WORDS})"
    rf"{_CLOSE_QUOTE}? style\b"
    rf"|\b(?:in|with|using) my (?:own )?style (?:called |named )?{_OPEN_QUOTE}"
    rf"(?P<quoted>[^\"'”’」』]{{1,40}}){_CLOSE_QUOTE}"
    r"|\b(?:in|with|using) my (?:own )?style (?:called|named) (?P<called>[\w-]+)"
    rf"|(?:用|按|按照|以|照|照着|带着?)?我的{_OPEN_QUOTE}?"
    rf"(?P<zh>[^\s，。,.!?！？的风「」『』“”\"']{{1,12}}){_CLOSE_QUOTE}?(?:风格|画风)",
    re.IGNORECASE,
)


def personal_style_of(text: str) -> tuple[str | None, str]:
    """The name of the person's own style the request wears, and the request without
    those words: ("watercolor", "a fox") for "a fox in my watercolor style"."""
    found = PERSONAL_STYLE.search(text)
    if found is None:
        return None, text
    name = next(group for group in found.groups() if group)
    return name.strip(), _tidy(text[: found.start()] + " " + text[found.end() :])


def read_image_request(text: str) -> dict[str, Any]:
    """The ImageArgs fields the words of a request set: {} for a new picture."""
    style_name, rest = personal_style_of(text)
    if style_name is not None:  # the rest is read as a request of its own
        return {"prompt": rest, **read_image_request(rest), "style_name": style_name}
    words = _tidy(without_pieces(text))
    if STYLED.search(words):
        return {"mode": "styled", "prompt": _tidy(_STYLE_WORDS.sub(" ", words))}
    if COVER.search(words):
        return {"mode": "cover", "prompt": cover_words(words)}
    if UPSCALE.search(words):
        return {"mode": "upscale"}
    if VARY.search(words):
        return {"mode": "vary", "prompt": instruction_of(words)}
    if ILLUSTRATE.search(words):
        return {"mode": "illustrate"}
    if is_change(words):
        return {"mode": "refine", "prompt": instruction_of(words)}
    return {"mode": "new"} if _COVER_WORD.search(words) else {}


def cover_words(words: str) -> str:
    """What a cover request says besides asking for one: "a cover for this clip in
    watercolor" -> "in watercolor"."""
    left = _tidy(COVER.sub(" ", words))
    return _tidy(_COVER_OPENING.sub("", left + " ")) if left else ""


def is_change(words: str) -> bool:
    """Whether words (their #N taken out) ask for a change to the image in focus."""
    words = _tidy(words)
    if REFINE.match(words):
        return True
    return bool(SHORT_CHANGE.match(words)) and len(words.split()) <= SHORT_CHANGE_WORDS


def instruction_of(text: str) -> str:
    """What to change, with the piece's number and the operation's own words taken out:
    "a variation of #3 at sunset" -> "at sunset", "please vary #12" -> ""."""
    return _tidy(_FILLER.sub(" ", without_pieces(text)))


def without_pieces(text: str) -> str:
    """The text with every #N taken out: the number names a piece, not what to paint."""
    return _tidy(PIECE_MENTION.sub(" ", text))


def _tidy(text: str) -> str:
    return " ".join(text.split()).strip(_EDGES)
