"""LangChain's standard unit tests for LocalChatModel, on the tiny random-weight model.

They check what every LangChain chat model promises: it builds from the standard parameters,
binds tools in all the forms LangChain accepts, offers structured output, and reports tracing
parameters. Behaviour that needs real generation is covered in test_llm.py and
test_toolcalls.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_tests.unit_tests import ChatModelUnitTests

from agent.chat.model import LocalChatModel
from tools.models.text import LoadedCausalLM


class TestLocalChatModelStandard(ChatModelUnitTests):
    @pytest.fixture(autouse=True)
    def _use_tiny_chat(self, tiny_chat: LoadedCausalLM) -> None:
        # The standard tests build the model from chat_model_params, a plain property, so
        # the session's loaded model is handed over here (pytest binds this fixture to the
        # same instance the test runs on).
        self._loaded = tiny_chat

    @property
    def chat_model_class(self) -> type[LocalChatModel]:
        return LocalChatModel

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"loaded": self._loaded}

    @property
    def has_tool_calling(self) -> bool:
        return True

    @property
    def has_tool_choice(self) -> bool:
        return True  # "any" and a named tool are enforced by starting the reply with the call

    @property
    def has_structured_output(self) -> bool:
        return True  # LangChain's default with_structured_output, through bind_tools

    @property
    def supports_json_mode(self) -> bool:
        return False  # no constrained decoding: JSON comes only through tool calls

    @property
    def supports_image_inputs(self) -> bool:
        return False  # only text reaches the model (to_chat_dicts drops other blocks)

    @property
    def supports_image_urls(self) -> bool:
        return False

    @property
    def supports_pdf_inputs(self) -> bool:
        return False

    @property
    def supports_audio_inputs(self) -> bool:
        return False

    @property
    def supports_video_inputs(self) -> bool:
        return False

    @property
    def supports_image_tool_message(self) -> bool:
        return False

    @property
    def supports_pdf_tool_message(self) -> bool:
        return False

    @property
    def supports_anthropic_inputs(self) -> bool:
        return False

    @property
    def returns_usage_metadata(self) -> bool:
        return True

    @property
    def supports_model_override(self) -> bool:
        return False  # one loaded model per instance; a per-call model= is refused
