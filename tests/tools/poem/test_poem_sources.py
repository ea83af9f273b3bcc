"""What a poem is written from besides its request: the person's own poems as their voice
(in the prompt the model sees, and no one else's), and a picture in focus, which the tiny
vision model describes and the poem is then made from ("made from #N")."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tools.contract import ArtifactKind, FocusArtifact, ToolContext, ToolRefused
from tools.from_image import NO_PICTURE
from tools.models.text import LoadedCausalLM
from tools.models.vision import LoadedVision, load_vision
from tools.poem import tool as poem_tool
from tools.poem.forms import FORMS, check
from tools.poem.plan import Plan
from tools.poem.prompts import VOICE_CHARACTERS, VOICE_EXAMPLES, poem_prompt
from tools.poem.tool import NO_VOICE, POEM_TOOL, PoemArgs, write_poem

MINE = (
    "salt on the window\nthe kettle ticks as it cools\nmy father's old coat",
    "the ferry horn again\nfog folds the harbour away\nI count the gulls twice",
)
SOMEONE_ELSES = "a red kite hangs\nover the motorway verge"


class Models:
    def __init__(self, chat: LoadedCausalLM, vision: LoadedVision | None = None) -> None:
        self.by_role = {"poem": chat, "vision": vision}

    def get(self, role: str) -> Any:
        model = self.by_role.get(role)
        if model is None:
            raise LookupError(role)
        return model


@pytest.fixture(scope="module")
def tiny_vision(models_cache_dir: Path) -> LoadedVision:
    return load_vision("tiny:vision", cache_dir=models_cache_dir, device="cpu", dtype="float32")


@pytest.fixture
def prompts(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The user message of every prompt the poem tool writes candidates from; one candidate
    each, since only the prompt is looked at."""
    seen: list[str] = []
    real = poem_tool.candidates

    def recording(loaded: Any, messages: Any, *args: Any, **options: Any) -> list[str]:
        seen.append(messages[-1]["content"])
        return real(loaded, messages, *args, **{**options, "count": 1})

    monkeypatch.setattr(poem_tool, "candidates", recording)
    yield seen


# --- in my voice --------------------------------------------------------------------------


def test_my_voice_puts_my_poems_and_no_others_in_the_prompt(
    tiny_chat: LoadedCausalLM, prompts: list[str]
) -> None:
    args = PoemArgs(prompt="rain on the allotment", form="haiku", seed=1, voice=True)
    draft = write_poem(args, ToolContext(models=Models(tiny_chat), voice=MINE))
    [prompt] = prompts
    assert all(poem in prompt for poem in MINE) and SOMEONE_ELSES not in prompt
    assert draft.params["voice"] == 2
    assert check(draft.text or "", FORMS["haiku"]).ok


def test_without_voice_the_persons_poems_stay_out(
    tiny_chat: LoadedCausalLM, prompts: list[str]
) -> None:
    args = PoemArgs(prompt="rain on the allotment", form="haiku", seed=1)
    draft = write_poem(args, ToolContext(models=Models(tiny_chat), voice=MINE))
    assert not any(poem in prompts[0] for poem in MINE) and "voice" not in draft.params


def test_my_voice_with_no_poems_of_mine_is_one_clear_line(tiny_chat: LoadedCausalLM) -> None:
    args = PoemArgs(prompt="rain", seed=1, voice=True)
    with pytest.raises(ToolRefused) as refused:
        write_poem(args, ToolContext(models=Models(tiny_chat)))
    assert str(refused.value) == NO_VOICE and NO_VOICE.startswith("You have no poems")


def test_the_voice_shown_is_a_few_poems_each_trimmed_at_a_line() -> None:
    long_poem = "\n".join(f"line {n} of a long poem about the sea and the sky" for n in range(40))
    many = (long_poem, *(f"short poem {n}\nof two lines" for n in range(10)))
    plan = Plan(FORMS["haiku"], "en", None)
    [_, user] = poem_prompt(PoemArgs(prompt="the sea"), plan, voice=many)
    shown = user["content"]
    assert "line 0 of a long poem" in shown and "line 39 of a long poem" not in shown
    assert [f"short poem {n}" in shown for n in range(10)] == [
        n < VOICE_EXAMPLES - 1 for n in range(10)
    ]
    kept = shown.split("\n\n")[1]
    assert len(kept) <= VOICE_CHARACTERS and kept.endswith("about the sea and the sky")


# --- a poem from a picture ----------------------------------------------------------------


def a_picture(path: Path, number: int = 7) -> FocusArtifact:
    Image.new("RGB", (64, 64), (30, 90, 200)).save(path)
    return FocusArtifact(number, ArtifactKind.IMAGE, "a blue square", None, path, "image/png", {})


def test_a_poem_about_the_picture_is_written_from_its_description(
    tiny_chat: LoadedCausalLM, tiny_vision: LoadedVision, tmp_path: Path, prompts: list[str]
) -> None:
    words = "write a haiku about this picture"
    args = PoemArgs(prompt=words, seed=3, **POEM_TOOL.reads(words))
    context = ToolContext(
        models=Models(tiny_chat, tiny_vision), focus=a_picture(tmp_path / "p.png")
    )
    draft = write_poem(args, context)
    description = draft.params["picture_description"]
    assert draft.from_focus and not draft.focus_is_source  # a poem made from picture #7
    assert draft.params["picture"] == 7 and description
    assert f"Subject: the picture: {description}" in prompts[0] and words in prompts[0]
    assert draft.params["form"] == "haiku" and check(draft.text or "", FORMS["haiku"]).ok


def test_the_write_a_poem_button_needs_no_words(
    tiny_chat: LoadedCausalLM, tiny_vision: LoadedVision, tmp_path: Path, prompts: list[str]
) -> None:
    args = PoemArgs(seed=4, piece=7, **POEM_TOOL.from_picture)
    context = ToolContext(
        models=Models(tiny_chat, tiny_vision), focus=a_picture(tmp_path / "p.png")
    )
    draft = write_poem(args, context)
    assert draft.from_focus and draft.params["picture"] == 7
    assert "As asked" not in prompts[0]


@pytest.mark.parametrize("focus", [None, "poem"])
def test_a_poem_about_a_picture_with_none_in_focus_is_one_line(
    tiny_chat: LoadedCausalLM, focus: str | None
) -> None:
    shown = (
        FocusArtifact(2, ArtifactKind.POEM, "the sea", "the sea\nagain", None, None, {})
        if focus
        else None
    )
    args = PoemArgs(prompt="为这张图写一首诗", **POEM_TOOL.reads("为这张图写一首诗"))
    with pytest.raises(ToolRefused) as refused:
        write_poem(args, ToolContext(models=Models(tiny_chat), focus=shown))
    assert str(refused.value) == NO_PICTURE
