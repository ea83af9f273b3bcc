"""Free text with native tool calling: LangChain's create_agent over the studio's tools.

For chat models that call tools (Qwen2.5 and the like), the model sees the tools, decides,
and its calls run through the same Studio.make path as explicit commands: validated
arguments, the per-person job limit, artifacts with lineage. Who asked and where travel in
the agent's runtime context, never in the tool arguments, so model output cannot make a
piece on someone else's behalf: keys the model adds beyond a tool's Args are dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from langchain.agents import create_agent
from langchain.agents.middleware import ToolCallLimitMiddleware
from langchain.tools import ToolRuntime
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.tools import StructuredTool
from pydantic import ConfigDict

from agent.making.studio import Studio
from agent.types import MadeArtifact, Turn
from tools.contract import Tool


@dataclass
class TurnContext:
    turn: Turn
    made: list[MadeArtifact] = field(default_factory=list)
    said_stored: bool = False


@dataclass(frozen=True)
class LoopOutcome:
    answer: str
    made: tuple[MadeArtifact, ...]
    tool_calls: int


class ToolLoop:
    def __init__(self, chat_model: BaseChatModel, studio: Studio, *, max_tool_calls: int) -> None:
        tools = [_as_langchain_tool(tool, studio) for tool in studio.tools.values()]
        self._graph = create_agent(
            chat_model,
            tools,
            context_schema=TurnContext,
            middleware=[ToolCallLimitMiddleware(run_limit=max_tool_calls, exit_behavior="end")],
        )

    async def run(self, prompt: Sequence[BaseMessage], turn: Turn) -> LoopOutcome:
        """`prompt`: the system message, the history and the person's message, in order."""
        context = TurnContext(turn)
        messages = list(prompt)
        state = await self._graph.ainvoke({"messages": messages}, context=context)
        new = state["messages"][len(messages) :]
        calls = sum(len(m.tool_calls) for m in new if isinstance(m, AIMessage))
        answers = [m for m in new if isinstance(m, AIMessage) and not m.tool_calls]
        answer = str(answers[-1].content).strip() if answers else ""
        return LoopOutcome(answer, tuple(context.made), calls)


def _as_langchain_tool(tool: Tool, studio: Studio) -> StructuredTool:
    # What the model may fill: the tool's own Args, with extra keys ignored rather than
    # refused, so a model that invents `user_id` still gets the piece made for the asker.
    lenient = ConfigDict(extra="ignore", frozen=True)
    model_args = type(f"{tool.name}_call", (tool.args,), {"model_config": lenient})

    async def make(runtime: ToolRuntime[TurnContext], **arguments: object) -> str:
        args = tool.args.model_validate(arguments)
        turn = runtime.context.turn
        keep_said = not runtime.context.said_stored
        reply = await studio.make(turn, tool, args, said=turn.text, keep_said=keep_said)
        runtime.context.said_stored |= reply.stored
        runtime.context.made.extend(reply.artifacts)
        return "\n".join([*(a.line for a in reply.artifacts), reply.text]).strip()

    return StructuredTool.from_function(
        coroutine=make, name=tool.name, description=tool.description, args_schema=model_args
    )
