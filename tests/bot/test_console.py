"""The terminal chat, as a person scripting it would use it: a real `atelier chat` process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agent.types import Command
from bot.console import parse_command


def test_parse_command_reads_options_then_free_text() -> None:
    assert parse_command("/poem form=haiku lang=en a heron in the rain") == Command(
        "poem", {"form": "haiku", "lang": "en"}, "a heron in the rain"
    )
    assert parse_command("/History") == Command("history", {}, "")
    assert parse_command("/forget yes") == Command("forget", {}, "yes")
    # Options stop at the first plain word: later key=value is part of the text.
    assert parse_command("/image a x=1 b").text == "a x=1 b"


def chat(env: dict[str, str], user: str, lines: list[str]) -> list[str]:
    """Run `atelier chat` with piped lines; return the replies (each ends with a blank line)."""
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "chat", "--user", user],
        input="".join(line + "\n" for line in lines),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    replies = result.stdout.split("\n\n")
    assert replies[-1] == "", result.stdout
    return replies[:-1]


@pytest.fixture
def smollm2_env(
    base_env: dict[str, str], models_cache_dir: Path, smollm2: object
) -> dict[str, str]:
    # Depending on the smollm2 fixture makes sure the one-time conversion is already cached.
    return {
        **base_env,
        "ATELIER_CHAT_MODEL": "bundled:smollm2",
        "ATELIER_MODELS_DIR": str(models_cache_dir),
        "ATELIER_TEMPERATURE": "0",
        "ATELIER_MAX_NEW_TOKENS": "40",
    }


def test_two_people_are_remembered_apart_across_restarts(smollm2_env: dict[str, str]) -> None:
    first = chat(
        smollm2_env,
        "ada",
        # Both plainly chat: "What do red foxes eat?" was within 0.2 nats of the image tool
        # when routed in bfloat16 (the console's auto dtype on this CPU), on either side.
        ["Hello! I am Ada and I love herons.", "/as bob", "Hi, I'm Bob and I keep red foxes."],
    )
    assert len(first) == 3 and first[1] == "Now speaking as bob."
    ada_reply, bob_reply = first[0], first[2]
    assert ada_reply.strip() and bob_reply.strip() and ada_reply != bob_reply

    # A new process: nothing survives but the database.
    later = chat(smollm2_env, "bob", ["/history", "/as ada", "/history"])
    bob_history, ada_history = later[0], later[2]
    assert "I'm Bob and I keep red foxes." in bob_history and bob_reply in bob_history
    assert "herons" not in bob_history
    assert "I am Ada and I love herons." in ada_history and ada_reply in ada_history
    assert "red fox" not in ada_history


def tiny_env(base: dict[str, str], models_cache_dir: Path, **settings: str) -> dict[str, str]:
    """`atelier chat` on the tiny models; a random model given tools never calls one, so
    words stay chat (ATELIER_ROUTING=tools)."""
    return {
        **base,
        "ATELIER_MODELS_DIR": str(models_cache_dir),
        "ATELIER_ROUTING": "tools",
        **settings,
    }


def test_scripted_forget_and_bad_input(
    base_env: dict[str, str], models_cache_dir: Path, tiny_chat: object
) -> None:
    # Scored routing with random weights may send "hello" to any tool; with tiny_env's
    # routing "hello" is plain chat, and is kept.
    env = tiny_env(base_env, models_cache_dir, ATELIER_CHAT_MODEL="tiny:chat")
    chat(env, "cy", ["hello"])
    replies = chat(env, "cy", ["   ", "x" * 4001, "/forget", "/history", "/forget yes"])
    assert replies[0].startswith("Say something")
    assert "limit is 4,000" in replies[1]
    assert "send /forget again with yes" in replies[2]  # not confirmed: nothing deleted
    assert replies[3].count("you: ") == 1  # only "hello" was stored
    assert replies[4] == "Forgotten: 1 conversation, 2 messages."
    assert "No history" in chat(env, "cy", ["/history"])[0]


def test_parse_command_reads_a_sessions_action_first() -> None:
    assert parse_command("/session start mode=relay style=ink a night market") == Command(
        "session", {"action": "start", "mode": "relay", "style": "ink"}, "a night market"
    )
    assert parse_command("/session join") == Command("session", {"action": "join"}, "")


def test_a_scripted_group_session_with_as(
    base_env: dict[str, str], models_cache_dir: Path, tiny_chat: object
) -> None:
    env = tiny_env(base_env, models_cache_dir, ATELIER_CHAT_MODEL="tiny:chat")
    script = [
        "/session start mode=free a night market",
        "/as bob",
        "hello",
        "/session join",
        "/session status",
        "/as ada",
        "/session end",
    ]
    replies = chat(env, "ada", script)
    assert replies[0].startswith("A session on “a night market” has started, hosted by ada.")
    assert replies[2].startswith("This is a group session on “a night market”: join it")
    assert replies[3] == "Welcome, bob: you are in the session on “a night market”."
    assert replies[4] == "Session on “a night market”: free, open. Members: ada (host), bob."
    assert replies[6].splitlines()[0] == "The session on “a night market” has ended."


def test_a_scripted_relay_and_an_image_round_across_a_restart(
    base_env: dict[str, str], models_cache_dir: Path, tiny_chat: object
) -> None:
    env = tiny_env(base_env, models_cache_dir, ATELIER_PROFILE="tiny")
    relay = [
        "/session start mode=relay form=haiku the sea at dawn",
        *("/as bob", "/session join", "/as cy", "/session join", "/as ada"),
        *("an old silent pond", "/as bob", "a frog jumps into the pond"),
        *("/as cy", "splash! silence again", "/as ada", "/session end"),
    ]
    replies = chat(env, "ada", relay)
    assert replies[6].startswith("Line 1 by ada is in (haiku ✓). Next: bob.")
    assert "The poem is complete (#3)" in replies[10]
    assert (
        "Relay poem 1:\nan old silent pond  — ada\na frog jumps into the pond  — bob"
        in (replies[12])
    )
    rounds = [
        "/session start mode=rounds a harbour",
        *("/as bob", "/session join", "/as cy", "/session join"),
        *("/as ada", "/session round kind=image minutes=30 a lighthouse at dusk"),
        *("/as bob", "with gulls circling", "/as cy", "under a red moon"),
        *("/session close", "/session vote #4"),
    ]
    replies = chat(env, "ada", rounds)
    assert replies[6].startswith("Round 1 is open: image — “a lighthouse at dusk”.")
    assert "#4 image" in replies[8] and replies[8].endswith("Vote: /session vote #4")
    assert replies[11] == "Only the host can close a round."
    assert replies[12] == "Your vote for #4 is in."
    # A new process on the same database: the votes and the deadline are where they were.
    after = ["/session status", "/session vote #5", "/as ada", "/session vote #5", "/session end"]
    replies = chat(env, "bob", after)
    assert "Round 1 (image: “a lighthouse at dusk”, closes " in replies[0]
    assert replies[0].endswith("2 candidates, 1 votes.")
    assert "Everyone has voted. Round 1 closed. Winner: #5." in replies[3]
    assert "Round 1 winner: #5 by cy" in replies[4] and "cy: 1 version, 1 vote" in replies[4]
    assert replies[4].splitlines()[-1].startswith("session-2.zip (saved as ")  # the export


def test_a_byte_that_is_not_utf8_does_not_end_the_console(
    base_env: dict[str, str], models_cache_dir: Path, tiny_chat: object
) -> None:
    env = tiny_env(
        base_env,
        models_cache_dir,
        ATELIER_CHAT_MODEL="tiny:chat",
        ATELIER_MAX_NEW_TOKENS="4",
        # As a UTF-8 locale (en_US.UTF-8) sets it; under C and C.UTF-8 Python reads stdin
        # with surrogateescape, and the boundary cleans the surrogate it makes.
        PYTHONIOENCODING="utf-8:strict",
    )
    # printf 'caf\xe9 au lait\nstill here?\n' | atelier chat: Latin-1 for "café" on line one.
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "chat", "--user", "ada"],
        input=b"caf\xe9 au lait\nstill here?\n/history\n",
        env=env,
        capture_output=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    *_answers, history, end = result.stdout.decode().split("\n\n")
    assert end == "" and "Traceback" not in result.stderr.decode(errors="replace")
    assert "you: caf\ufffd au lait" in history and "you: still here?" in history
