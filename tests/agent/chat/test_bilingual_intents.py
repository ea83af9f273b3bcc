"""Chinese requests reach the same tool and mode as their English twins, with the bundled
SmolLM2 routing for real over the real tools: the router picks the choice, then the tool's
own free-text rules (tools/<medium>/intents.py) fill its mode; "apply suggestion N" is read
before routing (agent/making/suggestions.py). None of these is a routing example."""

from __future__ import annotations

import asyncio

import pytest

from agent.chat.routing import ConstrainedRouter
from agent.making.suggestions import asked_suggestion
from tools.lineup import creative_tools
from tools.models.text import LoadedCausalLM

# (English, Chinese): twins a person would mean the same by.
TWINS: tuple[tuple[str, str], ...] = (
    ("write a poem about the spring rain", "写一首关于春雨的诗"),
    ("add a stanza to the poem", "给这首诗加一段"),
    ("draw a fox in the snow", "画一只雪地里的狐狸"),
    ("a variation of #3, please", "#3再来一个变体"),
    ("the same picture with another seed", "换个种子再画一张"),
    ("paint it darker", "把它画得更暗一些"),
    ("illustrate this poem", "把这首诗画出来"),
    ("upscale #2", "把#2放大"),
    ("set #3 to music", "给#3配乐"),
    ("sing my poem as a song", "把我的诗唱成歌"),
    ("extend the music by ten seconds", "把这段音乐延长十秒"),
    ("critique this poem", "评价一下这首诗"),
    ("apply the second suggestion", "应用第二条建议"),
    ("make it calmer", "让它更平静一些"),
    ("hello, how are you today?", "你好，你今天怎么样？"),
)
REQUIRED_CHINESE = 12


def intent(router: ConstrainedRouter, text: str) -> tuple[str, object]:
    """The choice and its mode (a suggestion's number), as the agent would act on it."""
    ask = asked_suggestion(text)
    if ask is not None:
        return "apply suggestion", ask.number
    decision = asyncio.run(router.decide([], text, list(creative_tools())))
    return decision.choice, getattr(decision.args, "mode", None)


@pytest.fixture(scope="module")
def routed(
    smollm2: LoadedCausalLM,
) -> list[tuple[str, str, tuple[str, object], tuple[str, object]]]:
    router = ConstrainedRouter(smollm2)
    return [(en, zh, intent(router, en), intent(router, zh)) for en, zh in TWINS]


def test_chinese_requests_reach_the_tool_and_mode_of_their_english_twins(
    routed: list[tuple[str, str, tuple[str, object], tuple[str, object]]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    same = [zh for _, zh, english, chinese in routed if english == chinese]
    with capsys.disabled():
        print(f"\nChinese twins routed as their English: {len(same)}/{len(routed)}")
        for en, zh, english, chinese in routed:
            mark = "=" if english == chinese else "≠"
            print(f"  {mark} {en!r} -> {english}   {zh!r} -> {chinese}")
    assert len(same) >= REQUIRED_CHINESE
