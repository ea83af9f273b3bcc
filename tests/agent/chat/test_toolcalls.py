"""Tool calling: reading `<tool_call>` blocks out of replies, and writing tools, calls and
results into the prompt of the next step (agent/chat/toolcalls.py, LocalChatModel)."""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool
from pydantic import BaseModel, Field

from agent.chat.model import LocalChatModel
from agent.chat.prompting import template_supports_tools
from agent.chat.toolcalls import (
    ParsedReply,
    normalize_tool_choice,
    parse_tool_calls,
    render_tool_call,
)
from tools.models.text import LoadedCausalLM

TOOLS = ["poem", "image", "music"]


def only_call(reply: ParsedReply) -> tuple[str, dict[str, Any]]:
    assert not reply.invalid_tool_calls, reply.invalid_tool_calls
    assert len(reply.tool_calls) == 1, reply.tool_calls
    return reply.tool_calls[0]["name"], reply.tool_calls[0]["args"]


# --- reading calls ---------------------------------------------------------------------------


def test_a_well_formed_call_becomes_a_tool_call_and_the_prose_stays() -> None:
    reply = parse_tool_calls(
        "I'll write that for you.\n"
        '<tool_call>\n{"name": "poem", "arguments": {"prompt": "the sea", "form": "haiku"}}\n'
        "</tool_call>"
    )
    assert only_call(reply) == ("poem", {"prompt": "the sea", "form": "haiku"})
    assert reply.content == "I'll write that for you."
    # Results are matched to calls by this id; the form is OpenAI's.
    assert re.fullmatch(r"call_[0-9a-f]{24}", reply.tool_calls[0]["id"] or "")


def test_several_calls_come_back_in_order_with_their_own_ids() -> None:
    reply = parse_tool_calls(
        '<tool_call>{"name": "poem", "arguments": {"prompt": "rain"}}</tool_call>\n'
        '<tool_call>{"name": "music", "arguments": {"prompt": "rain, as a song"}}</tool_call>'
    )
    assert [(call["name"], call["args"]) for call in reply.tool_calls] == [
        ("poem", {"prompt": "rain"}),
        ("music", {"prompt": "rain, as a song"}),
    ]
    assert reply.tool_calls[0]["id"] != reply.tool_calls[1]["id"]
    assert reply.content == ""


@pytest.mark.parametrize(
    ("text", "content"),
    [
        (  # the whole call fenced as a code block, prose around it
            'Sure!\n```json\n<tool_call>\n{"name": "image", "arguments": {"prompt": "a fox"}}\n'
            "</tool_call>\n```\nIt will take a minute.",
            "Sure!\n\nIt will take a minute.",
        ),
        (  # the JSON fenced inside the tags
            '<tool_call>\n```json\n{"name": "image", "arguments": {"prompt": "a fox"}}\n```\n'
            "</tool_call>",
            "",
        ),
    ],
)
def test_code_fences_around_or_inside_a_call_do_not_hide_it(text: str, content: str) -> None:
    reply = parse_tool_calls(text)
    assert only_call(reply) == ("image", {"prompt": "a fox"})
    assert reply.content == content  # no stray fences or tags shown to the user


def test_a_call_missing_its_closing_tag_at_the_end_of_the_reply_is_still_read() -> None:
    reply = parse_tool_calls('<tool_call>\n{"name": "poem", "arguments": {"prompt": "snow"}}')
    assert only_call(reply) == ("poem", {"prompt": "snow"})


def test_a_call_left_open_before_the_next_one_does_not_swallow_it() -> None:
    reply = parse_tool_calls(
        '<tool_call>{"name": "poem", "arguments": {"prompt": "a"}}\n'
        '<tool_call>{"name": "image", "arguments": {"prompt": "b"}}</tool_call>'
    )
    assert [call["name"] for call in reply.tool_calls] == ["poem", "image"]


@pytest.mark.parametrize(
    "body",
    [
        "{'name': 'poem', 'arguments': {'prompt': 'moon', 'rhyme': True}}",  # Python quoting
        '{"name": "poem", "arguments": {"prompt": "moon", "rhyme": true,},}',  # trailing commas
        '{"name": "poem", "arguments": "{\\"prompt\\": \\"moon\\", \\"rhyme\\": true}"}',  # str
        '{"name": "poem", "parameters": {"prompt": "moon", "rhyme": true}}',  # Llama's key
        '{"name": "poem", "arguments": {"prompt": "moon", "rhyme": true}',  # one brace short
        '{"name": "poem", "arguments": {"prompt": "moon", "rhyme": true}}}',  # one too many
    ],
)
def test_cheaply_repairable_json_is_repaired(body: str) -> None:
    reply = parse_tool_calls(f"<tool_call>\n{body}\n</tool_call>")
    assert only_call(reply) == ("poem", {"prompt": "moon", "rhyme": True})


@pytest.mark.parametrize(
    ("body", "name", "error"),
    [
        # Cut off by the token limit: running the tool on half a prompt would be wrong.
        ('{"name": "poem", "arguments": {"prompt": "the sea at ni', "poem", "not valid JSON"),
        # One brace short and never closed: as likely cut off as finished, so not guessed.
        ('{"name": "poem", "arguments": {"prompt": "the sea"}', "poem", "not valid JSON"),
        ('{"arguments": {"prompt": "the sea"}}', None, 'no "name"'),
        ('{"name": "poem", "arguments": ["the sea"]}', "poem", "must be a JSON object"),
        ("poem(prompt='the sea')", None, "no JSON object"),
        ("[" * 5000, None, "nested too deeply"),  # a model stuck repeating one token
    ],
)
def test_unrepairable_calls_become_invalid_tool_calls_not_exceptions(
    body: str, name: str | None, error: str
) -> None:
    reply = parse_tool_calls(f"Let me try.\n<tool_call>\n{body}")
    assert reply.tool_calls == []
    [invalid] = reply.invalid_tool_calls
    assert invalid["name"] == name  # the agent can say which tool the model reached for
    assert invalid["args"] == body  # what the model wrote, for logs and for the next step
    assert invalid["error"] is not None and error in invalid["error"]
    assert reply.content == "Let me try."


def test_one_bad_call_does_not_lose_the_good_one_beside_it() -> None:
    reply = parse_tool_calls(
        '<tool_call>{"name": "poem", "arguments": {"prompt": "a"}}</tool_call>'
        '<tool_call>{"name": "image", "arguments": {"prompt": </tool_call>'
    )
    assert [call["name"] for call in reply.tool_calls] == ["poem"]
    assert [call["name"] for call in reply.invalid_tool_calls] == ["image"]


def test_a_made_up_tool_is_an_invalid_call_that_names_the_real_ones() -> None:
    reply = parse_tool_calls(
        '<tool_call>{"name": "sculpture", "arguments": {"prompt": "clay"}}</tool_call>',
        known_names=TOOLS,
    )
    assert reply.tool_calls == []
    [invalid] = reply.invalid_tool_calls
    assert invalid["name"] == "sculpture"
    assert invalid["error"] == "there is no tool named 'sculpture'; the tools are " + str(
        sorted(TOOLS)
    )


def test_a_reply_without_calls_is_left_as_it_is() -> None:
    text = 'A poem needs no tools.\nNot even {"name": "poem"}.'
    assert parse_tool_calls(text) == ParsedReply(content=text)


# Strings that look like the protocol itself are where a tag-by-tag reader would go wrong.
_texts = st.text() | st.sampled_from(["</tool_call>", "<tool_call>", "```", "}", "'"])
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | _texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@given(
    name=st.from_regex(r"[a-z][a-z_]{0,15}", fullmatch=True),
    args=st.dictionaries(_texts, _json_values, max_size=4),
)
@example(name="poem", args={"prompt": "a poem about </tool_call> tags"})
def test_any_call_written_for_the_history_reads_back_the_same(
    name: str, args: dict[str, Any]
) -> None:
    reply = parse_tool_calls(render_tool_call(name, args))
    assert only_call(reply) == (name, args)


@given(st.text())
def test_whatever_follows_an_opening_tag_parsing_never_raises(tail: str) -> None:
    reply = parse_tool_calls("<tool_call>" + tail)
    assert len(reply.tool_calls) + len(reply.invalid_tool_calls) >= 1


# --- tool choice -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tool_choice", "expected"),
    [
        (None, "auto"),
        ("auto", "auto"),
        ("none", "none"),
        ("required", "any"),
        (True, "any"),
        ("image", "image"),
        ({"type": "function", "function": {"name": "image"}}, "image"),
        ({"name": "music"}, "music"),
    ],
)
def test_tool_choice_is_read_in_the_forms_langchain_callers_use(
    tool_choice: Any, expected: str
) -> None:
    assert normalize_tool_choice(tool_choice, TOOLS) == expected


# --- writing tools, calls and results into the prompt (SmolLM2's template) --------------------


class poem(BaseModel):  # lower case: the class name is the tool name the model sees
    """Write a poem about something."""

    prompt: str = Field(description="what the poem is about")


EXCHANGE = [
    SystemMessage("You are atelier, an art companion."),
    HumanMessage("A poem about the sea, please."),
    AIMessage(
        "One moment.",
        tool_calls=[{"name": "poem", "args": {"prompt": "the sea"}, "id": "call_1"}],
    ),
    ToolMessage("Saved as #12: waves fold the light", tool_call_id="call_1"),
]


@pytest.fixture
def tiny(tiny_chat: LoadedCausalLM) -> LocalChatModel:
    return LocalChatModel(loaded=tiny_chat, temperature=0.0, max_new_tokens=12)


def test_smollm2s_template_does_not_render_tools_so_ours_is_used(
    tiny_chat: LoadedCausalLM,
) -> None:
    # SmolLM2's chat template ignores tools= (seen with transformers 5.x), so tools would
    # silently vanish from the prompt if its template were trusted to render them.
    assert not template_supports_tools(tiny_chat.tokenizer)


def test_bound_tools_are_listed_after_the_operators_system_prompt(tiny: LocalChatModel) -> None:
    prompt = tiny.prompt_text(EXCHANGE[:2], tools=[poem])
    system = prompt.split("<|im_end|>")[0]
    assert system.startswith("<|im_start|>system\nYou are atelier, an art companion.\n\n# Tools")
    schema = json.loads(system.split("<tools>\n")[1].split("\n</tools>")[0])
    assert schema["function"]["name"] == "poem"
    assert schema["function"]["description"] == "Write a poem about something."
    assert schema["function"]["parameters"]["required"] == ["prompt"]
    assert '<tool_call>\n{"name": <tool-name>, "arguments": <arguments-json-object>}' in system
    assert prompt.endswith(
        "<|im_start|>user\nA poem about the sea, please.<|im_end|>\n<|im_start|>assistant\n"
    )


def test_a_tool_exchange_is_written_into_the_next_prompt(tiny: LocalChatModel) -> None:
    prompt = tiny.prompt_text(EXCHANGE, tools=[poem])
    assert prompt.endswith(
        "<|im_start|>assistant\nOne moment.\n<tool_call>\n"
        '{"name": "poem", "arguments": {"prompt": "the sea"}}\n</tool_call><|im_end|>\n'
        "<|im_start|>user\n<tool_response>\nSaved as #12: waves fold the light\n"
        "</tool_response><|im_end|>\n<|im_start|>assistant\n"
    )


def test_a_call_the_model_made_reads_back_into_the_same_text(tiny: LocalChatModel) -> None:
    written = '<tool_call>\n{"name": "poem", "arguments": {"prompt": "the sea"}}\n</tool_call>'
    parsed = parse_tool_calls(written)
    reply = AIMessage(content=parsed.content, tool_calls=parsed.tool_calls)
    prompt = tiny.prompt_text([HumanMessage("A poem about the sea."), reply], tools=[poem])
    assert f"<|im_start|>assistant\n{written}<|im_end|>" in prompt


def test_results_of_one_turns_calls_share_one_user_turn(tiny: LocalChatModel) -> None:
    calls = [
        {"name": "poem", "args": {"prompt": "rain"}, "id": "call_1"},
        {"name": "poem", "args": {"prompt": "snow"}, "id": "call_2"},
    ]
    history = [
        HumanMessage("Two poems: rain and snow."),
        AIMessage("", tool_calls=calls),
        ToolMessage("#1 rain", tool_call_id="call_1"),
        ToolMessage("#2 snow", tool_call_id="call_2"),
    ]
    prompt = tiny.prompt_text(history, tools=[poem])
    assert (
        "<|im_start|>user\n<tool_response>\n#1 rain\n</tool_response>\n"
        "<tool_response>\n#2 snow\n</tool_response><|im_end|>"
    ) in prompt


def test_a_malformed_call_stays_in_the_history_as_the_model_wrote_it(
    tiny: LocalChatModel,
) -> None:
    broken = parse_tool_calls('<tool_call>{"name": "poem", "arguments": {"prompt": "the se')
    reply = AIMessage(content="", invalid_tool_calls=broken.invalid_tool_calls)
    prompt = tiny.prompt_text([HumanMessage("A poem."), reply, HumanMessage("Again?")])
    assert (
        '<|im_start|>assistant\n<tool_call>\n{"name": "poem", "arguments": {"prompt": "the se\n'
        "</tool_call><|im_end|>"
    ) in prompt


def test_the_next_step_runs_on_that_prompt(tiny: LocalChatModel) -> None:
    reply = tiny.bind_tools([poem]).invoke(EXCHANGE)
    assert reply.usage_metadata is not None
    prompt = tiny.prompt_text(EXCHANGE, tools=[poem])
    prompt_tokens = tiny.loaded.tokenizer(prompt, add_special_tokens=False)["input_ids"]
    assert reply.usage_metadata["input_tokens"] == len(prompt_tokens)
    assert tiny.get_num_tokens_from_messages(EXCHANGE, tools=[poem]) == len(prompt_tokens)


def test_tool_choice_none_keeps_the_tools_out_of_the_prompt(tiny: LocalChatModel) -> None:
    assert tiny.prompt_text(EXCHANGE[:2], tools=[poem], tool_choice="none") == tiny.prompt_text(
        EXCHANGE[:2]
    )


IMAGE = {
    "name": "image",
    "description": "Paint a picture.",
    "parameters": {"type": "object", "properties": {"prompt": {"type": "string"}}},
}


@pytest.mark.parametrize(
    ("tools", "tool_choice", "opening"),
    [
        ([poem, IMAGE], "any", '<tool_call>\n{"name": "'),  # the model picks the tool
        ([poem, IMAGE], "image", '<tool_call>\n{"name": "image", "arguments": '),
        # Any of one tool is that tool: with_structured_output binds its schema this way.
        ([poem], "any", '<tool_call>\n{"name": "poem", "arguments": '),
    ],
)
def test_a_required_tool_call_is_begun_for_the_model(
    tiny: LocalChatModel, tools: list[Any], tool_choice: str, opening: str
) -> None:
    prompt = tiny.prompt_text(EXCHANGE[:2], tools=tools, tool_choice=tool_choice)
    assert prompt.endswith("<|im_start|>assistant\n" + opening)


def test_a_garbled_required_call_is_reported_not_raised(tiny: LocalChatModel) -> None:
    # Random weights write no JSON: the forced call opens and never becomes valid.
    reply = tiny.bind_tools([poem], tool_choice="poem").invoke(EXCHANGE[:2])
    assert reply.tool_calls == []
    [invalid] = reply.invalid_tool_calls
    assert invalid["name"] == "poem"
    assert invalid["args"] is not None
    assert invalid["args"].startswith('{"name": "poem", "arguments": ')
    assert reply.content == ""


def test_a_tool_choice_naming_no_bound_tool_fails_when_binding(tiny: LocalChatModel) -> None:
    with pytest.raises(ValueError, match=r"'poetry' is not one of the bound tools \['poem'\]"):
        tiny.bind_tools([poem], tool_choice="poetry")


def test_tools_in_every_langchain_form_reach_the_model(tiny: LocalChatModel) -> None:
    @tool
    def critique(piece: int) -> str:
        """Critique a piece of work by its number."""
        return f"#{piece} is lovely"

    music = {
        "name": "music",
        "description": "Compose a short piece.",
        "parameters": {"type": "object", "properties": {"prompt": {"type": "string"}}},
    }
    tools = [poem, critique, music]
    reply = tiny.bind_tools(tools, tool_choice="required").invoke(EXCHANGE[:2])
    prompt = tiny.prompt_text(EXCHANGE[:2], tools=tools, tool_choice="any")
    listing = prompt.split("<tools>\n")[1].split("\n</tools>")[0].splitlines()
    assert [json.loads(line)["function"]["name"] for line in listing] == [
        "poem",
        "critique",
        "music",
    ]
    # "required" became "any": the reply was begun as a call, so the model made one.
    assert prompt.endswith('<tool_call>\n{"name": "')
    assert reply.usage_metadata is not None
    prompt_tokens = tiny.loaded.tokenizer(prompt, add_special_tokens=False)["input_ids"]
    assert reply.usage_metadata["input_tokens"] == len(prompt_tokens)
    assert len(reply.tool_calls) + len(reply.invalid_tool_calls) == 1


# --- templates that render tools themselves --------------------------------------------------

# Shaped like Qwen2.5's template, with a different listing header and a "tool" role, so the
# test can tell the template's own rendering from the project's. (transformers renders with
# trim_blocks: a newline right after a block tag is dropped, hence the '\n' expression.)
NATIVE_TEMPLATE = (
    "{% if tools %}<|im_start|>system\n"
    "{% if messages[0].role == 'system' %}{{ messages[0].content }}\n\n{% endif %}"
    "Functions:\n{% for tool in tools %}{{ tool | tojson }}\n{% endfor %}<|im_end|>\n"
    "{% elif messages[0].role == 'system' %}"
    "<|im_start|>system\n{{ messages[0].content }}<|im_end|>\n"
    "{% endif %}"
    "{% for message in messages %}"
    "{% if message.role == 'system' %}"
    "{% elif message.tool_calls is defined %}<|im_start|>assistant\n{{ message.content }}"
    "{% for call in message.tool_calls %}{{ '\\n' }}<tool_call>\n"
    '{"name": "{{ call.function.name }}", "arguments": {{ call.function.arguments | tojson }}}'
    "\n</tool_call>{% endfor %}<|im_end|>\n"
    "{% else %}<|im_start|>{{ message.role }}\n{{ message.content }}<|im_end|>\n"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
# Lists tools but refuses tool results.
NO_TOOL_ROLE_TEMPLATE = (
    "{% for tool in tools or [] %}{{ tool | tojson }}\n{% endfor %}"
    "{% for message in messages %}"
    "{% if message.role == 'tool' %}{{ raise_exception('no tool role') }}{% endif %}"
    "<|im_start|>{{ message.role }}\n{{ message.content }}<|im_end|>\n<tool_call>"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
# Lists tools and takes results, but calls look like Llama 3's bare JSON, not <tool_call>.
OTHER_FORM_TEMPLATE = (
    "{% for tool in tools or [] %}{{ tool | tojson }}\n{% endfor %}"
    "{% for message in messages %}<|im_start|>{{ message.role }}\n{{ message.content }}"
    "{% for call in message.tool_calls or [] %}{{ call.function | tojson }}{% endfor %}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@pytest.fixture
def with_template(tiny_chat: LoadedCausalLM) -> Callable[[str], LocalChatModel]:
    def build(template: str) -> LocalChatModel:
        tokenizer = copy.deepcopy(tiny_chat.tokenizer)  # the session's tokenizer stays as it is
        tokenizer.chat_template = template
        loaded = dataclasses.replace(tiny_chat, tokenizer=tokenizer)
        return LocalChatModel(loaded=loaded, temperature=0.0, max_new_tokens=8)

    return build


def test_a_template_that_renders_tools_gets_them_in_its_own_form(
    with_template: Callable[[str], LocalChatModel],
) -> None:
    chat = with_template(NATIVE_TEMPLATE)
    prompt = chat.prompt_text(EXCHANGE, tools=[poem])
    listing = prompt.split("Functions:\n")[1].split("\n")[0]
    assert json.loads(listing)["function"]["name"] == "poem"
    assert "# Tools" not in prompt  # listed once, by the template, not again by us
    assert prompt.endswith(
        "<|im_start|>assistant\nOne moment.\n<tool_call>\n"
        '{"name": "poem", "arguments": {"prompt": "the sea"}}\n</tool_call><|im_end|>\n'
        "<|im_start|>tool\nSaved as #12: waves fold the light<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    reply = chat.bind_tools([poem]).invoke(EXCHANGE)
    assert reply.usage_metadata is not None
    prompt_tokens = chat.loaded.tokenizer(prompt, add_special_tokens=False)["input_ids"]
    assert reply.usage_metadata["input_tokens"] == len(prompt_tokens)


def test_a_required_call_is_begun_inside_a_native_template_too(
    with_template: Callable[[str], LocalChatModel],
) -> None:
    prompt = with_template(NATIVE_TEMPLATE).prompt_text(
        EXCHANGE[:2], tools=[poem], tool_choice="poem"
    )
    assert prompt.endswith('<|im_start|>assistant\n<tool_call>\n{"name": "poem", "arguments": ')


@pytest.mark.parametrize("template", [NO_TOOL_ROLE_TEMPLATE, OTHER_FORM_TEMPLATE])
def test_a_template_that_cannot_carry_our_tool_exchange_gets_the_project_format(
    with_template: Callable[[str], LocalChatModel], template: str
) -> None:
    prompt = with_template(template).prompt_text(EXCHANGE, tools=[poem])
    assert "# Tools" in prompt
    assert "<|im_start|>user\n<tool_response>\nSaved as #12" in prompt
