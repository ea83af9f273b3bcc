"""ATELIER_CHAT_BACKEND=openai: the chat model in a serving engine, here the OpenAI-compatible
fake on 127.0.0.1 (tests/support/fake_openai.py), through the real agent and database."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import tiktoken
from langchain_core.messages import HumanMessage
from pydantic import SecretStr

from agent.chat.backends.errors import PERSON_LINE
from agent.chat.backends.opening import open_chat_model
from agent.chat.backends.reach import served_model_name
from agent.chat.backends.served import ServedChatModel, build_served_model
from agent.config import Settings, SettingsError, StartupError, load_settings
from agent.factory import routing_mode
from agent.types import TextSink, Turn, UserRef
from bot.cli import log_secrets
from bot.log_redaction import redacting_handler
from tests.support.fake_openai import MODEL, FakeOpenAI
from tests.support.studio_tools import VERSE
from tests.support.workshop import PLACE, MakeWorkshop

KEY = "sk-test-0d3c9f2e-never-logged"


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenAI]:
    fake = FakeOpenAI()
    await fake.start()
    yield fake
    await fake.close()


def served(server: FakeOpenAI, **options: object) -> ServedChatModel:
    settings = Settings(
        chat_backend="openai",
        chat_base_url=server.base_url,
        chat_api_key=SecretStr(KEY),
        temperature=0.0,
        max_new_tokens=64,
        **options,  # type: ignore[arg-type]
    )
    return build_served_model(settings, MODEL)


async def test_a_chat_turn_is_answered_by_the_served_model_and_kept(
    make_studio: MakeWorkshop, server: FakeOpenAI
) -> None:
    studio = make_studio([], chat_model=served(server))
    server.say("Herons wait in the shallows.")

    reply = await studio.say("tell me about herons")

    assert reply.text == "Herons wait in the shallows." and reply.stored
    assert [(m.role, m.content) for m in await studio.messages()] == [
        ("user", "tell me about herons"),
        ("assistant", "Herons wait in the shallows."),
    ]
    [request] = server.requests
    assert request.last_user_text == "tell me about herons"
    assert request.body["model"] == MODEL and request.body["max_tokens"] == 64
    assert request.authorization == f"Bearer {KEY}"  # the key goes to the server, only there


async def test_a_tool_call_from_the_server_runs_the_tool_through_the_agent(
    make_studio: MakeWorkshop, server: FakeOpenAI
) -> None:
    studio = make_studio([VERSE], tool_chat=served(server))
    server.call("verse", {"prompt": "herons", "form": "haiku"})
    server.say("Here is your haiku.")

    reply = await studio.say("a haiku about herons please")

    [piece] = await studio.artifacts()
    assert piece.text is not None and piece.text.startswith("haiku on herons")
    assert [a.number for a in reply.artifacts] == [piece.id]
    assert "Here is your haiku." in reply.text
    first, second = server.requests
    assert first.tool_names == ["verse"]  # the studio's tools, offered to the engine
    tool_results = [m for m in second.body["messages"] if m["role"] == "tool"]
    assert len(tool_results) == 1 and "haiku on herons" in tool_results[0]["content"]


async def test_a_server_gone_mid_turn_is_one_line_and_nothing_is_stored(
    make_studio: MakeWorkshop, server: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    studio = make_studio([], chat_model=served(server))
    await server.close()

    with caplog.at_level(logging.WARNING):
        reply = await studio.say("are you there?")

    assert reply.text == PERSON_LINE and not reply.stored
    assert await studio.messages() == []
    [line] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "unreachable" in line.getMessage() and server.base_url in line.getMessage()
    assert line.exc_info is None and "\n" not in line.getMessage()  # one line, no traceback


async def test_a_stream_cut_midway_stores_nothing_and_says_so(
    make_studio: MakeWorkshop, server: FakeOpenAI
) -> None:
    studio = make_studio([], chat_model=served(server))
    shown: list[str] = []
    server.say("one two three four five six seven", drop_after=4)

    reply = await studio.agent.respond(_turn("count for me", shown.append))

    assert shown and shown[-1] in "one two three four five six seven"  # it did stream
    assert reply.text == PERSON_LINE and not reply.stored
    assert await studio.messages() == []


async def test_an_unreachable_server_at_start_is_one_line_naming_it(server: FakeOpenAI) -> None:
    url = server.base_url
    await server.close()

    with pytest.raises(StartupError) as refused:
        await served_model_name(url, SecretStr(KEY), None, timeout_s=2.0)

    line = str(refused.value)
    assert url in line and "unreachable" in line and "\n" not in line
    assert KEY not in line


async def test_the_model_is_the_one_the_server_lists_or_a_named_one_it_serves(
    server: FakeOpenAI,
) -> None:
    assert await served_model_name(server.base_url, None, None) == MODEL
    with pytest.raises(StartupError, match="does not serve 'other'"):
        await served_model_name(server.base_url, None, "other")


def test_a_served_model_routes_through_its_own_tool_calling() -> None:
    assert routing_mode("auto", None) == "tools"


async def test_the_key_never_appears_in_logs_even_at_debug(
    make_studio: MakeWorkshop, server: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    studio = make_studio([], chat_model=served(server))
    server.say("Hello.")

    with caplog.at_level(logging.DEBUG):
        await studio.say("hello")
        await server.close()
        await studio.say("hello again")  # the failure's line too

    assert server.requests[0].authorization == f"Bearer {KEY}"
    logged = "\n".join(r.getMessage() + str(r.args or "") for r in caplog.records)
    assert caplog.records and KEY not in logged
    assert KEY not in repr(served(server))  # nor in the model's repr (tracing, errors)


def test_the_operator_log_redacts_the_key_wherever_it_is_written() -> None:
    stream = io.StringIO()
    handler = redacting_handler(stream, log_secrets(Settings(chat_api_key=SecretStr(KEY))))
    logger = logging.getLogger("test.served.redaction")
    logger.addHandler(handler)
    try:
        logger.warning("the engine said: Incorrect API key provided: %s", KEY)
    finally:
        logger.removeHandler(handler)
    assert KEY not in stream.getvalue() and "<redacted>" in stream.getvalue()


def test_tokens_are_counted_without_tiktoken_or_the_server(
    server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_download(*_: object, **__: object) -> None:
        raise AssertionError("tiktoken was asked for an encoding")

    monkeypatch.setattr(tiktoken, "get_encoding", no_download)
    monkeypatch.setattr(tiktoken, "encoding_for_model", no_download)
    model = served(server)

    english = "The heron stands still in the grey rain, waiting."
    assert model.count_tokens(english) >= len(english.split())
    assert model.get_num_tokens("鹭鸶立在雨中") >= 6  # a token per CJK character, at least
    history = [HumanMessage(english), HumanMessage("and then?")]
    assert model.get_num_tokens_from_messages(history) > model.get_num_tokens(english)
    assert server.requests == []  # counting asked the server nothing


def _turn(text: str, stream: TextSink) -> Turn:
    return Turn("test", UserRef("ada", "Ada"), PLACE, text, stream=stream)


def test_the_key_is_refused_in_the_settings_file_and_read_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "atelier.toml"
    monkeypatch.setenv("ATELIER_CONFIG", str(config))
    config.write_text(f'chat_api_key = "{KEY}"\n')
    with pytest.raises(SettingsError, match="ATELIER_CHAT_API_KEY") as refused:
        load_settings()
    assert KEY not in str(refused.value)
    config.write_text("")
    monkeypatch.setenv("ATELIER_CHAT_API_KEY", KEY)
    settings = load_settings()
    assert settings.chat_api_key is not None and KEY not in repr(settings)


async def test_start_up_names_the_served_model_or_refuses_constrained_routing(
    server: FakeOpenAI,
) -> None:
    settings = Settings(chat_backend="openai", chat_base_url=server.base_url)
    model = await open_chat_model(settings, models=None)  # type: ignore[arg-type]
    assert isinstance(model, ServedChatModel) and model.model_name == MODEL

    with pytest.raises(StartupError, match="ATELIER_ROUTING"):
        await open_chat_model(settings.model_copy(update={"routing": "constrained"}), None)  # type: ignore[arg-type]
    with pytest.raises(StartupError, match="ATELIER_CHAT_BASE_URL"):
        await open_chat_model(Settings(chat_backend="openai"), None)  # type: ignore[arg-type]


def test_atelier_stops_with_one_line_when_the_engine_is_not_there(
    base_env: dict[str, str],
) -> None:
    env = {
        **base_env,
        "ATELIER_CHAT_BACKEND": "openai",
        "ATELIER_CHAT_BASE_URL": "http://127.0.0.1:9/v1",  # the discard port: nothing listens
        "ATELIER_CHAT_API_KEY": KEY,
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "chat", "--user", "ada"],
        env=env,
        input="",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "atelier: the chat server at http://127.0.0.1:9/v1 is unreachable (All connection "
        "attempts failed): start it, or fix ATELIER_CHAT_BASE_URL"
    ]
    assert KEY not in done.stdout + done.stderr
