"""Names and one-line descriptions of the creative tools, in one place.

The chat model chooses a tool from these lines (by tool calling, or by constrained routing
for models that cannot call tools), and the routing tests score phrasings against them before
the tools themselves exist. Each tool file takes its name and description from here, so the
tests keep measuring what the model is really shown.

The examples are requests each choice serves. Constrained routing shows them to the model as
the earlier turns of a conversation about that choice (a small model tells choices apart far
better with them); they are not the routing test's phrasings, which the router never sees.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ToolInfo:
    name: str
    description: str
    examples: tuple[str, ...] = ()


POEM = ToolInfo(
    "poem",
    "Write a poem in English or Chinese, in a form such as free verse, haiku, sonnet or "
    "jueju, or revise the poem in focus (darker, another stanza ...).",
    (
        "write a poem about the autumn wind",
        "a haiku about the morning train",
        "some verses for my sister's wedding",
        "写一首关于大海的诗",
        "make the poem darker and add a stanza",
        "a love poem in the style of Neruda",
        "a quatrain about the tides",
        "七言绝句，写江南的雨",
        "给我的诗再加两行",
    ),
)
IMAGE = ToolInfo(
    "image",
    "Paint or draw a picture from a description, or make a variation or refinement of the "
    "image in focus.",
    (
        "draw a castle on a hill at dusk",
        "a picture of a tiger in the jungle, ink style",
        "make an image of a rainy street in Paris",
        "paint my cat as a king",
        "画一座雪山",
        "an anime-style girl under cherry blossoms",
        "a logo of a fox, flat design",
        "a variation of #3 at sunset",
        "把#2画成水彩风格",
    ),
)
MUSIC = ToolInfo(
    "music",
    "Compose a short piece of music or a song from a description or a poem, or extend the "
    "music in focus.",
    (
        "compose a calm piano piece",
        "a jazz tune for a late night",
        "make a song with guitar and drums",
        "music for a birthday party",
        "extend the track by twenty seconds",
        "a sad violin melody",
        "8 seconds of rain and soft synths",
        "a march for toy soldiers",
    ),
)
# A picture of the poem in focus, the same way round as music for it (below): without it,
# "illustrate my poem" went to the music tool's poem description.
IMAGE_FOR_A_POEM = ToolInfo(
    IMAGE.name,
    "Illustrate a poem: paint or draw a picture of what the poem in focus describes.",
    (
        "draw my poem",
        "a painting of the haiku above",
        "illustrate poem #2",
        "picture the scene in these lines",
        "make art for the verses you wrote",
        "turn the sonnet into an ink drawing",
        "画出这首诗的意境",
        "an image for my limerick",
    ),
)
# Music made from the poem in focus: asked for in a poem's words ("sing poem #3"), which the
# music examples above do not make likely, so it is scored as a choice of its own.
MUSIC_FOR_A_POEM = ToolInfo(
    MUSIC.name,
    "Set a poem to music: compose a song or a tune for the poem in focus, its words and mood.",
    (
        "make a song out of my verses",
        "a melody for the haiku above",
        "sing poem #3",
        "compose a tune that fits these lines",
        "turn the sonnet into a ballad",
        "music for the poem you wrote",
        "把这首诗唱成歌",
        "为我的诗谱曲",
        "the words of my poem, as a folk song",
    ),
)
# A poem about the picture in focus, and music for it (issue 19): "write a poem about this
# picture" went to the image tool, "为这张图写一首诗" to music, without a choice of their own.
POEM_FROM_A_PICTURE = ToolInfo(
    POEM.name,
    "Write a poem about a picture: the image in focus or sent, described in verse.",
    (
        "a poem about the photo I sent",
        "describe #4 in verse",
        "a haiku about this painting",
        "put the image above into words, as a poem",
        "看图写诗",
        "给这幅画配一首诗",
        "a sonnet inspired by my drawing",
    ),
)
MUSIC_FOR_A_PICTURE = ToolInfo(
    MUSIC.name,
    "Compose music for a picture: a tune or soundtrack for the image in focus or sent.",
    (
        "a soundtrack for the photo I sent",
        "what would #4 sound like as music?",
        "compose a tune for this painting",
        "turn my drawing into a song",
        "给这幅画配一段音乐",
        "music inspired by the image above",
    ),
)
CRITIQUE = ToolInfo(
    "critique",
    "Give feedback on a piece of work (a poem, an image or music): review and rate its "
    "creativity, aesthetics, technique and emotional impact, and suggest how to improve it.",
    (
        "critique #4",
        "what could be better in this picture?",
        "give me notes on the song",
        "judge my haiku honestly",
        "review the poem you wrote",
        "what do you think of my painting? be critical",
        "point out the flaws in #2",
        "does the rhythm of the song work?",
        "点评一下我的画",
        "这首诗写得怎么样？给点意见",
    ),
)

# A person's own style, trained on their pictures. Not in CREATIVE_TOOLS yet: the routing
# test's phrasings (tests/agent/chat/test_routing.py) have no "style" choice.
STYLE = ToolInfo(
    "style",
    "Learn a person's own style: train it on their own pictures (the ones named, sent, or "
    "kept), to paint with it by name later.",
    (
        "learn my style from my kept pictures",
        "/style train watercolor #3 #7 #9 #12",
        "train my ink style on #4 #5 #6 #8",
        "用我收藏的图学我的风格",
    ),
)

CREATIVE_TOOLS = (POEM, IMAGE, MUSIC, CRITIQUE)

# Not a tool: the router's choice to reply in words (agent/making/decisions.py ANSWER).
JUST_ANSWER = ToolInfo(
    "answer",
    "Talk with the person: answer a question, greet, thank, chat about anything; nothing is made.",
    (
        "hi there",
        "how are you?",
        "thank you!",
        "what is impressionism?",
        "tell me about yourself",
        "hi, I'm Sam and I love old films",
        "what do you think about Van Gogh's sunflowers?",
        "why is the sea blue?",
        "谢谢你！",
    ),
)

# Not a tool either: a change to the piece in focus that does not say what kind of piece it is
# ("make it darker"). The piece's own tool revises it (agent/making/decisions.py REVISE);
# without this choice such requests went to whichever tool's examples they happened to resemble.
REVISE_FOCUS = ToolInfo(
    "revise",
    "Change the piece we are working on, whatever kind it is: make it darker or brighter, "
    "shorter or longer, calmer or livelier; change a part of it.",
    (
        "make it sadder",
        "a bit shorter",
        "more contrast, please",
        "can you make it gentler?",
        "change the last part",
        "try it again, but brighter",
        "too much going on, simplify it",
        "让它更欢快一些",
    ),
)
