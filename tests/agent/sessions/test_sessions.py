"""Group sessions in the agent: one shared conversation with labelled authors, membership,
a shared canvas with each version's contributor, and isolation from private conversations."""

from __future__ import annotations

import pytest
from langchain_core.language_models import BaseChatModel

from agent.types import Place
from tests.agent.making.test_one_pass import RECALL
from tests.support.chat_doubles import RecordingChat
from tests.support.studio_tools import SKETCH, TRACE, VERSE, SketchArgs
from tests.support.workshop import MakeWorkshop, Workshop
from tools.contract import ArtifactDraft, ArtifactKind, Tool, ToolContext
from tools.models.text import LoadedCausalLM

ELSEWHERE = Place(channel_id="c2", guild_id="g1", is_direct=False)


@pytest.fixture
def chat(tiny_chat: LoadedCausalLM, make_studio: MakeWorkshop) -> RecordingChat:
    from agent.chat.model import build_chat_model
    from agent.config import Settings

    inner: BaseChatModel = build_chat_model(Settings(max_new_tokens=4), tiny_chat)
    return RecordingChat(inner=inner)


@pytest.fixture
def group(make_studio: MakeWorkshop, chat: RecordingChat) -> Workshop:
    return make_studio([VERSE, SKETCH, TRACE], chat_model=chat)


def told(chat: RecordingChat) -> list[str]:
    """Every message of the last prompt the chat model was given."""
    return [str(message.content) for message in chat.prompts[-1]]


async def test_a_session_starts_once_and_says_how_to_join(group: Workshop) -> None:
    started = await group.command("/session start mode=free style=ink a night market")
    again = await group.command("/session start another theme", user="bob")
    status = await group.command("/session status", user="bob")
    assert "a night market" in started.text and "/session join" in started.text
    assert "watercolor" not in started.text and "ink" in started.text
    assert again.text.startswith("A session on “a night market” is already on here")
    assert status.text == (
        "Session on “a night market”: free, open; style: ink. Members: Ada (host)."
    )


async def test_a_bad_start_is_refused_in_one_line(group: Workshop) -> None:
    empty = await group.command("/session start mode=free")
    wrong = await group.command("/session start mode=chaos a theme")
    unknown = await group.command("/session dance")
    assert empty.text.startswith("/session start: theme") and "\n" not in empty.text
    assert wrong.text.startswith("/session start: mode=") and "\n" not in wrong.text
    assert unknown.text.startswith("/session takes start, join, leave")
    assert (await group.command("/session status")).text.startswith("There is no session here")


async def test_only_members_take_part_and_nothing_of_an_outsider_is_kept(
    group: Workshop,
) -> None:
    await group.command("/session start a night market")
    refused = await group.say("hello, I'm Bob", user="bob")
    assert refused.text.startswith("This is a group session on “a night market”: join it")
    assert not refused.stored and await group.messages() == []


async def test_every_members_message_is_in_one_context_labelled_with_its_author(
    group: Workshop, chat: RecordingChat
) -> None:
    await group.command("/session start a night market")
    await group.command("/session join", user="bob")
    await group.say("I love paper lanterns", user="ada")
    await group.say("and the smell of grilled corn", user="bob")
    prompt = told(chat)
    assert "group art session on “a night market”" in prompt[0]
    assert "Ada: I love paper lanterns" in prompt
    assert prompt[-1] == "Bob: and the smell of grilled corn"
    conversations = {m.conversation_id for m in await group.messages()}
    assert len(conversations) == 1  # one shared conversation, not one per person


async def test_private_talk_and_the_session_never_enter_each_other(
    group: Workshop, chat: RecordingChat
) -> None:
    await group.say("my secret: I hate lanterns", place=ELSEWHERE)
    await group.command("/session start a night market")
    await group.say("lanterns everywhere!")
    assert not any("secret" in text for text in told(chat))
    await group.say("what did we talk about?", place=ELSEWHERE)
    assert not any("everywhere" in text for text in told(chat))
    assert any("secret" in text for text in told(chat))


async def test_members_build_on_each_others_pieces_and_the_canvas_credits_them(
    group: Workshop,
) -> None:
    await group.command("/session start a night market")
    await group.command("/session join", user="bob")
    await group.command("/sketch a lantern", user="ada")  # #1
    traced = await group.command("/trace #1", user="bob")  # Bob's version of Ada's piece
    first, second = await group.artifacts()
    assert traced.artifacts and (second.parent_id, second.root_id) == (first.id, first.id)
    assert first.creator_id != second.creator_id  # each version is its contributor's
    canvas = await group.command("/session canvas", user="bob")
    assert canvas.text == "Canvas:\n#1 image “a lantern”: v1 #1 by Ada, v2 #2 by Bob"
    outsider = await group.command("/trace #1", user="cy")
    assert outsider.text.startswith("This is a group session")


async def test_the_host_leaving_hands_over_and_the_last_one_out_ends_it(group: Workshop) -> None:
    await group.command("/session start a night market")
    await group.command("/session join", user="bob")
    assert (await group.command("/session end", user="bob")).text == (
        "Only the host can end the session."
    )
    left = await group.command("/session leave", user="ada")
    assert left.text == "Ada left the session. Bob is the host now."
    last = await group.command("/session leave", user="bob")
    assert last.text.endswith("Nobody is left, so the session has ended.")
    assert last.session_ended  # Discord archives the thread
    assert (await group.command("/session status")).text.startswith("There is no session here")


async def test_the_end_lists_the_pieces_and_credits_every_member(group: Workshop) -> None:
    await group.command("/session start a night market")
    await group.command("/session join", user="bob")
    await group.command("/sketch a lantern", user="ada")
    await group.command("/trace #1", user="bob")
    await group.command("/verse the crowd", user="bob")
    ended = await group.command("/session end")
    assert ended.text.splitlines() == [
        "The session on “a night market” has ended.",
        "Canvas:",
        "#1 image “a lantern”: v1 #1 by Ada, v2 #2 by Bob",
        "#3 poem “the crowd”: v1 #3 by Bob",
        "Credits: Bob: 2 versions; Ada: 1 version",
    ]
    after = await group.say("hello again")  # the place is private again
    [piece, *_] = await group.artifacts()
    [said] = [m for m in await group.messages() if m.content == "hello again"]
    assert after.stored and said.conversation_id != piece.conversation_id


async def test_joining_twice_or_leaving_without_joining_says_so(group: Workshop) -> None:
    assert (await group.command("/session join")).text.startswith("There is no session here")
    await group.command("/session start a night market")
    assert (await group.command("/session join")).text.startswith("You are already in")
    assert (await group.command("/session leave", user="bob")).text == (
        "You are not in a session here."
    )


def styled_sketch(args: SketchArgs, context: ToolContext) -> ArtifactDraft:
    """A sketch that says which style it was handed."""
    text = f"{args.prompt} in {context.style or 'no style'}"
    return ArtifactDraft(ArtifactKind.POEM, text=text, params={})


STYLED = Tool(
    "styled", "Sketch in the session's style.", ArtifactKind.POEM, SketchArgs, styled_sketch
)


async def test_every_piece_in_a_session_follows_and_records_its_shared_style(
    make_studio: MakeWorkshop,
) -> None:
    studio = make_studio([STYLED])
    await studio.command("/styled before")  # a private piece: no style
    await studio.command("/session start style=woodcut a night market")
    made = await studio.command("/styled a lantern")
    private, shared = await studio.artifacts()
    assert made.text == "a lantern in woodcut" and shared.params == {"session_style": "woodcut"}
    assert private.text == "before in no style" and private.params == {}


async def test_host_controls_are_the_hosts_alone(group: Workshop) -> None:
    await group.command("/session start a night market")
    await group.command("/session join", user="bob")
    refusals = {
        "pause": "pause the session",
        "lock": "lock the session",
        "kick ada": "remove a member",
        "host bob": "hand the session over",
        "style ink": "set the session's style",
    }
    for action, what in refusals.items():
        refused = await group.command(f"/session {action}", user="bob")
        assert refused.text == f"Only the host can {what}." and refused.private
    status = await group.command("/session status")
    assert status.text == "Session on “a night market”: free, open. Members: Ada (host), Bob."


async def test_pause_lock_kick_hand_over_and_restyle(group: Workshop) -> None:
    await group.command("/session start a night market")
    await group.command("/session join", user="bob")
    assert (await group.command("/session pause")).text.startswith("The session is paused")
    paused = await group.say("a lantern, please", user="bob")
    assert paused.text.startswith("The host paused the session") and not paused.stored
    await group.command("/session resume")
    await group.command("/session lock")
    locked = await group.command("/session join", user="cy")
    assert locked.text == "The host has locked this session: nobody new may join."
    assert (await group.command("/session kick ada")).text.startswith("You cannot kick yourself")
    assert (await group.command("/session kick dan")).text == "No member here is called “dan”."
    assert (await group.command("/session style woodcut")).text.endswith("style: woodcut.")
    assert (await group.command("/session host Bob")).text == "Bob is the host now."
    kicked = await group.command("/session kick ada", user="bob")
    assert kicked.text == "Ada is no longer in the session."
    gone = await group.say("hello?", user="ada")
    assert gone.text.startswith("This is a group session on “a night market”: join it")
    status = await group.command("/session status", user="bob")
    assert status.text == (
        "Session on “a night market”: free, locked; style: woodcut. Members: Bob (host)."
    )


async def test_a_members_taste_shapes_session_pieces_only_when_they_opt_in(
    make_studio: MakeWorkshop,
) -> None:
    studio = make_studio([VERSE, RECALL])
    await studio.command("/verse form=haiku a heron", place=ELSEWHERE)
    await studio.command("/keep #1", place=ELSEWHERE)
    await studio.command("/session start a night market")
    assert (await studio.command("/recall taste")).text == "none"  # off by default
    assert (await studio.command("/session taste on")).text.startswith("Your kept pieces will")
    assert (await studio.command("/recall taste")).text == "haiku"
    await studio.command("/session taste off")
    assert (await studio.command("/recall taste")).text == "none"


async def test_forget_removes_a_members_words_and_place_but_not_what_others_built_on(
    group: Workshop,
) -> None:
    await group.command("/session start a night market")
    await group.command("/session join", user="bob")
    await group.say("lanterns everywhere", user="bob")
    await group.command("/sketch a lantern", user="bob")  # #1: Ada builds on it
    await group.command("/trace #1", user="ada")  # #2
    await group.command("/sketch a kite", user="bob")  # #3: nobody builds on it
    forgot = await group.command("/forget yes", user="bob")
    assert forgot.text == (
        "Forgotten: 0 conversations, 0 messages; in 1 group session, 3 messages and your "
        "membership."
    )
    lantern, traced = await group.artifacts()  # the kite went with Bob's words
    assert (lantern.id, lantern.creator_id, traced.parent_id) == (1, None, 1)
    assert not any(m.content == "lanterns everywhere" for m in await group.messages())
    canvas = await group.command("/session canvas")
    assert canvas.text == "Canvas:\n#1 image “a lantern”: v1 #1 by a former member, v2 #2 by Ada"
    status = await group.command("/session status")
    assert status.text == "Session on “a night market”: free, open. Members: Ada (host)."
    assert len(group.media_files()) == 2  # the kite's file went too


async def test_a_host_who_forgets_hands_the_session_over(group: Workshop) -> None:
    await group.command("/session start a night market")
    await group.command("/session join", user="bob")
    await group.command("/forget yes")
    status = await group.command("/session status", user="bob")
    assert status.text == "Session on “a night market”: free, open. Members: Bob (host)."
