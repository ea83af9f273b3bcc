"""LocalChatModel: real replies from SmolLM2, and the generation contract on the tiny model."""

from __future__ import annotations

import asyncio
import time

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from agent.chat.model import LocalChatModel, build_chat_model, cut_at_stop
from agent.chat.prompting import to_chat_dicts
from agent.config import Settings
from tools.models.text import LoadedCausalLM

HAIKU = "Write a haiku about the sea."


@pytest.fixture
def tiny(tiny_chat: LoadedCausalLM) -> LocalChatModel:
    return LocalChatModel(loaded=tiny_chat, temperature=0.0, max_new_tokens=16)


@pytest.fixture(scope="module")
def smol(smollm2: LoadedCausalLM) -> LocalChatModel:
    # Short replies: SmolLM2 makes roughly 10-20 tokens a second on 2 CPU cores.
    return LocalChatModel(loaded=smollm2, temperature=0.0, max_new_tokens=24)


@pytest.fixture(scope="module")
def haiku_reply(smol: LocalChatModel) -> AIMessage:
    return smol.invoke(HAIKU)


# --- SmolLM2: the real thing ----------------------------------------------------------------


def test_smollm2_answers_with_real_text(smol: LocalChatModel) -> None:
    reply = smol.invoke("What is the capital of France?")
    assert "Paris" in reply.content


def test_different_prompts_get_different_replies(
    smol: LocalChatModel, haiku_reply: AIMessage
) -> None:
    haiku = str(haiku_reply.content)
    assert len(haiku.split()) >= 8
    assert "sea" in haiku.lower() or "wave" in haiku.lower()
    other = smol.invoke("Name three colours.")
    assert other.content != haiku_reply.content


def test_a_stop_string_ends_the_reply_before_it(
    smol: LocalChatModel, haiku_reply: AIMessage
) -> None:
    full = str(haiku_reply.content)
    assert "\n" in full, "the haiku should span lines for this test to mean anything"
    first_line = smol.invoke(HAIKU, stop=["\n"])
    assert first_line.content == full.split("\n")[0].strip()
    # Generation stopped there instead of running on to max_new_tokens and being cut after.
    assert first_line.usage_metadata is not None and haiku_reply.usage_metadata is not None
    assert first_line.usage_metadata["output_tokens"] < haiku_reply.usage_metadata["output_tokens"]
    assert first_line.response_metadata["finish_reason"] == "stop"


async def test_ainvoke_gives_the_invoke_reply_without_stalling_the_event_loop(
    smol: LocalChatModel, haiku_reply: AIMessage
) -> None:
    gaps: list[float] = []

    async def heartbeat() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    beating = asyncio.create_task(heartbeat())
    started = time.monotonic()
    reply = await smol.ainvoke(HAIKU)
    took = time.monotonic() - started
    beating.cancel()

    assert reply.content == haiku_reply.content
    assert took > 0.3, "generation was too quick for the heartbeat check to mean anything"
    # A blocked loop would show one gap as long as the whole generation.
    assert max(gaps) < took / 2


# --- the contract, on the tiny model -----------------------------------------------------------


def test_temperature_zero_is_deterministic(tiny: LocalChatModel) -> None:
    first = tiny.invoke("Tell me about clouds.")
    assert first.content
    assert tiny.invoke("Tell me about clouds.").content == first.content
    assert tiny.invoke("Tell me about rivers.").content != first.content


async def test_concurrent_callers_each_get_their_own_reply(tiny: LocalChatModel) -> None:
    prompts = ["Tell me about clouds.", "Tell me about rivers.", "Tell me about stones."]
    one_at_a_time = [(await tiny.ainvoke(prompt)).content for prompt in prompts]
    together = await asyncio.gather(*(tiny.ainvoke(prompt) for prompt in prompts))
    assert [reply.content for reply in together] == one_at_a_time


def test_sampling_with_a_seed_is_repeatable(tiny: LocalChatModel) -> None:
    sampled = tiny.model_copy(update={"temperature": 1.0, "seed": 7})
    first = sampled.invoke("Surprise me.")
    assert sampled.invoke("Surprise me.").content == first.content
    assert sampled.invoke("Surprise me.", seed=8).content != first.content
    assert first.content != tiny.invoke("Surprise me.").content  # sampling, not greedy


def test_usage_counts_prompt_and_reply_tokens(tiny: LocalChatModel) -> None:
    messages = [SystemMessage("You are terse."), HumanMessage("Hello there")]
    reply = tiny.invoke(messages)
    usage = reply.usage_metadata
    assert usage is not None
    assert usage["input_tokens"] == tiny.get_num_tokens_from_messages(messages)
    assert usage["output_tokens"] == 16  # random weights never pick end-of-turn this soon
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert reply.response_metadata["finish_reason"] == "length"
    assert reply.response_metadata["model_name"] == "tiny:chat"


def test_per_call_options_override_the_defaults(tiny: LocalChatModel) -> None:
    short = tiny.bind(max_new_tokens=3).invoke("Hello")
    assert short.usage_metadata is not None
    assert short.usage_metadata["output_tokens"] == 3


def test_unknown_options_are_refused_clearly(tiny: LocalChatModel) -> None:
    with pytest.raises(TypeError, match=r"does not accept \['max_tokens'\]"):
        tiny.invoke("Hello", max_tokens=3)
    with pytest.raises(ValueError, match="need temperature >= 0"):
        tiny.invoke("Hello", temperature=-1.0)


def test_count_tokens_uses_the_models_tokenizer(
    tiny: LocalChatModel, tiny_chat: LoadedCausalLM
) -> None:
    text = "A poem about the quiet of snow."
    assert tiny.count_tokens(text) == tiny_chat.count_tokens(text) == tiny.get_num_tokens(text)
    assert tiny.count_tokens(text) < len(text)  # subword tokens, not characters


def test_build_chat_model_takes_generation_settings(tiny_chat: LoadedCausalLM) -> None:
    settings = Settings(temperature=0.3, top_p=0.8, max_new_tokens=12)
    chat = build_chat_model(settings, tiny_chat)
    assert (chat.temperature, chat.top_p, chat.max_new_tokens) == (0.3, 0.8, 12)
    assert chat._llm_type == "atelier-local"
    assert chat._identifying_params["model"] == "tiny:chat"
    assert chat._identifying_params["dtype"] == "float32"


# --- pure helpers -----------------------------------------------------------------------------


def test_messages_map_to_chat_template_roles() -> None:
    messages = [SystemMessage("be kind"), HumanMessage("hi"), AIMessage("hello!")]
    assert to_chat_dicts(messages) == [
        {"role": "system", "content": "be kind"},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello!"},
    ]


@pytest.mark.parametrize(
    ("text", "stop", "expected"),
    [
        ("one\ntwo", ["\n"], ("one", True)),
        ("one END two STOP", ["STOP", "END"], ("one ", True)),  # the earliest wins
        ("no stops here", ["\n"], ("no stops here", False)),
        ("text", [""], ("text", False)),  # an empty stop string would cut everything
    ],
)
def test_cut_at_stop(text: str, stop: list[str], expected: tuple[str, bool]) -> None:
    assert cut_at_stop(text, stop) == expected
