"""Constrained routing: free text to the right tool (or to plain chat) with a model that
cannot call tools, arguments filled from the request, and a question when they do not fit."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

import pytest
import torch
from pydantic import Field

from agent.chat.routing import (
    _TEXT_MARK,
    ChoiceScorer,
    ConstrainedRouter,
    choice_messages,
    fill_args,
)
from agent.factory import routing_mode
from tests.agent.chat.test_toolcalls import NATIVE_TEMPLATE
from tests.support.routing_phrasings import PHRASINGS
from tests.support.studio_tools import VERSE
from tests.support.workshop import MakeWorkshop
from tests.tools.scheduling.helpers import WAIT_S, Batches
from tools.catalog import (
    CREATIVE_TOOLS,
    IMAGE_FOR_A_POEM,
    JUST_ANSWER,
    MUSIC,
    MUSIC_FOR_A_PICTURE,
    MUSIC_FOR_A_POEM,
    POEM_FROM_A_PICTURE,
    REVISE_FOCUS,
    ToolInfo,
)
from tools.contract import ArtifactDraft, ArtifactKind, Tool, ToolArgs, ToolContext
from tools.image.tool import IMAGE_TOOL
from tools.lineup import creative_tools
from tools.models.registry import ModelRegistry
from tools.models.text import LoadedCausalLM
from tools.music.tool import MUSIC_TOOL
from tools.scheduling.queue import Batching
from tools.scheduling.scheduler import Scheduler

REQUIRED_RATE = 0.8


class StandInArgs(ToolArgs):
    prompt: str = Field(description="what to make", min_length=1, max_length=300)
    form: Literal["haiku", "sonnet", "limerick"] | None = Field(None, description="the form")
    seed: int | None = Field(None, ge=0, le=2**31 - 1, description="the random seed")


def stand_in(info: ToolInfo) -> Tool:
    """A test tool with a real tool's name, description and examples."""
    kind = ArtifactKind(info.name)

    def run(args: StandInArgs, context: ToolContext) -> ArtifactDraft:
        return ArtifactDraft(kind, text=f"{kind} made from: {args.prompt}")

    return Tool(info.name, info.description, kind, StandInArgs, run, examples=info.examples)


def routed_tools() -> list[Tool]:
    """The registered creative tools, with a stand-in for each one not written yet: the
    routing test keeps measuring what the bot really offers as the tools land."""
    real = {tool.name: tool for tool in creative_tools()}
    return [real.get(info.name) or stand_in(info) for info in CREATIVE_TOOLS]


@pytest.fixture(scope="module")
def routing_rates(smollm2: LoadedCausalLM) -> dict[str, tuple[float, list[str]]]:
    """Per choice: the share of its phrasings routed right, and the ones routed wrong."""
    router, tools = ConstrainedRouter(smollm2), routed_tools()

    async def route_all() -> dict[str, tuple[float, list[str]]]:
        rates = {}
        for choice, phrasings in PHRASINGS.items():
            wrong = []
            for text in phrasings:
                decision = await router.decide([], text, tools)
                if decision.choice != choice:
                    wrong.append(f"{text!r} -> {decision.choice}")
            rates[choice] = (1 - len(wrong) / len(phrasings), wrong)
        return rates

    return asyncio.run(route_all())


@pytest.mark.parametrize("choice", list(PHRASINGS))
def test_free_text_is_routed_to_the_choice_a_person_meant(
    choice: str,
    routing_rates: dict[str, tuple[float, list[str]]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    rate, wrong = routing_rates[choice]
    with capsys.disabled():
        print(f"\nrouting with SmolLM2-135M: {choice:<9} {rate:.0%}  wrong: {wrong or 'none'}")
    assert rate >= REQUIRED_RATE, wrong


def test_every_choice_is_phrased_ten_ways_and_none_is_an_example() -> None:
    choices = (JUST_ANSWER, REVISE_FOCUS, *CREATIVE_TOOLS)
    also = (IMAGE_FOR_A_POEM, MUSIC_FOR_A_POEM, POEM_FROM_A_PICTURE, MUSIC_FOR_A_PICTURE)
    examples = {e for info in (*choices, *also) for e in info.examples}
    assert set(PHRASINGS) == {info.name for info in choices}
    for phrasings in PHRASINGS.values():
        assert len(set(phrasings)) >= 10
        assert not examples & set(phrasings)


def test_the_cached_prefixes_score_as_a_full_pass_would(tiny_chat: LoadedCausalLM) -> None:
    """The speed-up must not change the scores: compare with one plain pass per choice."""
    choices = [JUST_ANSWER, REVISE_FOCUS, *CREATIVE_TOOLS]
    scorer = ChoiceScorer(tiny_chat)
    for text in ("draw a heron", "写一首关于春天的诗", "x"):
        cached = scorer.scores(text, choices)
        plain = {c.name: full_pass_score(tiny_chat, c, text) for c in choices}
        assert cached == pytest.approx(plain, abs=1e-3)
    assert len(set(cached.values())) > 1  # the choices' contexts do change the score


def test_a_tool_with_two_descriptions_is_scored_by_its_likelier(
    tiny_chat: LoadedCausalLM,
) -> None:
    scorer = ChoiceScorer(tiny_chat)
    text = "sing poem #3"
    alone = scorer.scores(text, [MUSIC])["music"]
    for_a_poem = scorer.scores(text, [MUSIC_FOR_A_POEM])["music"]
    both = scorer.scores(text, [MUSIC, MUSIC_FOR_A_POEM])
    assert alone != pytest.approx(for_a_poem, abs=1e-3)
    assert both == {"music": pytest.approx(max(alone, for_a_poem), abs=1e-3)}


def full_pass_score(loaded: LoadedCausalLM, choice: ToolInfo, text: str) -> float:
    rendered = loaded.tokenizer.apply_chat_template(choice_messages(choice), tokenize=False)
    head = loaded.tokenizer(rendered.split(_TEXT_MARK)[0], add_special_tokens=False)["input_ids"]
    request = loaded.tokenizer(text, add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        logits = loaded.model(input_ids=torch.tensor([head + request])).logits[0]
    logprobs = logits.float().log_softmax(dim=-1)
    positions = torch.arange(len(head) - 1, len(head) + len(request) - 1)
    return logprobs[positions, torch.tensor(request)].sum().item()


def test_options_named_in_the_request_are_taken() -> None:
    tool = stand_in(CREATIVE_TOOLS[0])
    decision = fill_args(tool, "a Haiku about rain, seed 7")
    assert decision.args == StandInArgs(prompt="a Haiku about rain, seed 7", form="haiku", seed=7)
    # Two forms named: the request does not say which, so the tool's default stands.
    assert fill_args(tool, "a haiku or a sonnet?").args.form is None  # type: ignore[union-attr]
    # A form inside another word is not named.
    assert fill_args(tool, "the sonneteer's lament").args.form is None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "asked"),
    [
        ("a picture with seed -3", "seed -3"),
        ("paint " + "a very long request " * 20, "shorten"),
    ],
)
def test_arguments_that_do_not_fit_become_a_question(text: str, asked: str) -> None:
    decision = fill_args(stand_in(CREATIVE_TOOLS[1]), text)
    assert decision.args is None
    assert decision.question is not None and asked in decision.question


async def test_a_routed_request_makes_the_piece_and_chat_stays_chat(
    make_studio: MakeWorkshop, smollm2: LoadedCausalLM, tiny_models: ModelRegistry
) -> None:
    studio = make_studio(routed_tools(), router=ConstrainedRouter(smollm2), models=tiny_models)
    made = await studio.say("paint a lighthouse in a storm at night, oil on canvas")
    [artifact] = await studio.artifacts()
    assert [a.line.split()[:2] for a in made.artifacts] == [["#1", "image"]]
    assert artifact.kind == "image"
    chatted = await studio.say("hello! how was your day?")
    assert chatted.artifacts == () and chatted.text
    assert len(await studio.artifacts()) == 1


async def test_a_change_that_names_no_kind_revises_the_latest_piece(
    make_studio: MakeWorkshop, smollm2: LoadedCausalLM, tiny_models: ModelRegistry
) -> None:
    """Before the REVISE choice, "make it darker" after a picture went to the poem tool."""
    studio = make_studio(routed_tools(), router=ConstrainedRouter(smollm2), models=tiny_models)
    await studio.say("paint a lighthouse in a storm at night, oil on canvas")
    changed = await studio.say("make it darker")
    picture, darker = await studio.artifacts()
    assert (darker.kind, darker.parent_id, darker.version) == ("image", picture.id, 2)
    assert changed.artifacts[0].number == darker.id


@pytest.mark.parametrize(
    ("request_words", "kind"), [("set my poem to music", "music"), ("illustrate my poem", "image")]
)
async def test_a_poem_asked_for_as_music_or_a_picture_becomes_one_made_from_it(
    make_studio: MakeWorkshop,
    smollm2: LoadedCausalLM,
    tiny_models: ModelRegistry,
    request_words: str,
    kind: str,
) -> None:
    """Before the tools' second descriptions (Tool.also_serves), the first went to the poem
    tool and the second to music."""
    tools = [VERSE, IMAGE_TOOL, MUSIC_TOOL]
    studio = make_studio(tools, router=ConstrainedRouter(smollm2), models=tiny_models)
    await studio.command("/verse a heron at dawn")
    await studio.say(request_words)
    poem, made = await studio.artifacts()
    assert (made.kind, made.parent_id) == (kind, poem.id)
    assert made.params["poem"] == poem.id  # made from the poem, not from the words


async def test_a_request_that_does_not_fit_is_answered_with_a_question_and_makes_nothing(
    make_studio: MakeWorkshop, smollm2: LoadedCausalLM
) -> None:
    studio = make_studio(routed_tools(), router=ConstrainedRouter(smollm2))
    reply = await studio.say("draw a fox in the snow, seed -3")
    assert reply.artifacts == () and "seed -3" in reply.text
    assert await studio.artifacts() == []
    said = [m.content for m in await studio.messages()]
    assert said == ["draw a fox in the snow, seed -3", reply.text]


def test_each_chat_model_gets_the_routing_it_can_do(tiny_chat: LoadedCausalLM) -> None:
    """auto: SmolLM2's template (tiny:chat has it too) cannot carry tools, so its requests are
    routed by scoring; a template that renders tools natively gets tool calling."""
    tokenizer = copy.deepcopy(tiny_chat.tokenizer)
    tokenizer.chat_template = NATIVE_TEMPLATE
    native = dataclasses.replace(tiny_chat, tokenizer=tokenizer)
    assert routing_mode("auto", tiny_chat) == "constrained"
    assert routing_mode("auto", native) == "tools"
    assert routing_mode("constrained", native) == "constrained"
    assert routing_mode("tools", tiny_chat) == "tools"


def test_requests_routed_at_once_are_scored_in_one_batch_as_each_alone(
    tiny_chat: LoadedCausalLM,
) -> None:
    """Three people's requests (of other lengths, one a single token) in one forward pass
    through the model scheduler score as each does alone."""
    choices = [JUST_ANSWER, REVISE_FOCUS, *CREATIVE_TOOLS]
    texts = ("draw a heron over the marsh at dawn", "写一首关于春天的诗", "x")
    pace = Batches()
    scheduler = Scheduler(Batching(window_s=WAIT_S, max_size=(("scoring", 3),)), pace=pace)
    scorer = ChoiceScorer(tiny_chat, scheduler.lane("routing"))
    with ThreadPoolExecutor(3) as pool:
        together = list(pool.map(lambda text: scorer.scores(text, choices), texts))
    scheduler.shutdown()

    assert pace.sizes == [3]
    alone = ChoiceScorer(tiny_chat)
    for text, scores in zip(texts, together, strict=True):
        assert scores == pytest.approx(alone.scores(text, choices), abs=1e-4)
