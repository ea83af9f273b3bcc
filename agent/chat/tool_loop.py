"""Free text with native tool calling: LangChain's create_agent over the studio's tools.

For chat models that call tools (Qwen2.5 and the like), the model sees the tools, decides,
and its calls run through the same Studio.run path as explicit commands: validated
arguments, the per-person job limit, the piece in focus. Who asked and where (the turn's
Scope) travel in the agent's runtime context, never in the tool arguments, so model output
cannot make a piece on someone else's behalf: keys the model adds beyond a tool's Args are
dropped, and a `piece` it names other than the one in focus is used only when the asker made
it or named it (#N) in their own message. Nothing is stored while the loop runs: what the
tools made comes back in the outcome, and the turn stores it with the person's message and the
model's last words in one transaction. What the model reads of a result names the kind and the
first line of a text, never a file's path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from langchain.agents import create_agent
from langchain.agents.middleware import ToolCallLimitMiddleware
from langchain.tools import ToolRuntime
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.tools import StructuredTool
from pydantic import ConfigDict

from agent.chat.backends.streaming import state_streamed
from agent.making.studio import Made, Request, Studio
from agent.scope import Scope
from agent.store.artifacts import ArtifactNotFound
from agent.store.db import Artifact
from agent.types import Turn
from tools.contract import PIECE_MENTION, Tool

# The piece a call names (its `piece`), when it is not the one in focus: looked up for the
# person who asked, so a model can only name pieces that person may see.
NamedPiece = Callable[[Scope, int], Awaitable[Artifact]]
NOT_NAMED = (
    "#{number} is not yours, and the person asking did not name it: I build on another "
    "person's piece only when the asker names it (#{number})."
)


@dataclass
class TurnContext:
    turn: Turn
    scope: Scope
    named_piece: NamedPiece
    made: list[Made] = field(default_factory=list)


@dataclass(frozen=True)
class LoopOutcome:
    answer: str
    made: tuple[Made, ...]
    tool_calls: int


class ToolLoop:
    def __init__(self, chat_model: BaseChatModel, studio: Studio, *, max_tool_calls: int) -> None:
        tools = [_as_langchain_tool(tool, studio) for tool in studio.tools.values()]
        self._studio = studio
        self._graph = create_agent(
            chat_model,
            tools,
            context_schema=TurnContext,
            middleware=[ToolCallLimitMiddleware(run_limit=max_tool_calls, exit_behavior="end")],
        )

    async def run(
        self, prompt: Sequence[BaseMessage], turn: Turn, scope: Scope, named_piece: NamedPiece
    ) -> LoopOutcome:
        """`prompt`: the system message, the history and the person's message, in order."""
        context = TurnContext(turn, scope, named_piece)
        messages = list(prompt)
        try:
            state = await state_streamed(self._graph, {"messages": messages}, context, turn.stream)
        except BaseException:  # the turn stores nothing: what its tools made goes, jobs failed
            await self._studio.discard(context.made)
            raise
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
        turn, scope = runtime.context.turn, runtime.context.scope
        focus = scope.focus
        if args.piece is not None and (focus is None or focus.id != args.piece):
            try:
                focus = await runtime.context.named_piece(scope, args.piece)
            except ArtifactNotFound as missing:
                return str(missing)
            if not _theirs_to_name(focus, scope, turn):
                return NOT_NAMED.format(number=args.piece)
        request = Request(
            tool=tool, args=args, scope=scope, focus=focus, progress=turn.progress, said=turn.text
        )
        made = await studio.run(request)
        if not isinstance(made, Made):
            return made.text  # a refusal or failure, in one line
        runtime.context.made.append(made)
        return made.seen_by_the_model

    return StructuredTool.from_function(
        coroutine=make, name=tool.name, description=tool.description, args_schema=model_args
    )


def _theirs_to_name(piece: Artifact, scope: Scope, turn: Turn) -> bool:
    """Whether the model may build on `piece`, which is not the one in focus: the asker made
    it, or named it (#N) in their own message. A piece another member made is on a session's
    shared canvas, but words in the history (another member's, a quoted poem's) must not
    steer the asker's turn onto it."""
    named = {int(number) for number in PIECE_MENTION.findall(turn.text)}
    return piece.creator_id == scope.user_id or piece.id in named
