"""The critique tool on tiny random-weight models: the shape of a critique for each kind of
piece, scores in range, the measurements in the prompt the model really received, lineage,
honest fallbacks when the model's words are unusable, refusals, the vision and CLIP loaders,
and "apply suggestion N" making a child version of the critiqued piece."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import soundfile
import torch

from agent.making.decisions import REVISE, Decision
from agent.making.revisions import CannotRevise
from agent.making.suggestions import asked_suggestion, plan_revision
from agent.types import Attachment, Command, Reply, Turn, UserRef
from tests.support.studio_tools import PGM, PGM_HEADER, TRACE, VERSE, ScriptedRouter
from tests.support.workshop import PLACE, MakeWorkshop, Workshop
from tests.tools.critique.test_audio_measures import click_track
from tests.tools.critique.test_image_measures import colour_bars
from tools.contract import ArtifactDraft, ArtifactKind, FocusArtifact, Tool, ToolContext
from tools.critique.intents import pasted_poem
from tools.critique.model import score_odds, text_reader
from tools.critique.reading import parse_written
from tools.critique.rubric import CRITERIA
from tools.critique.subject import ASK_WHICH, SUPPORTED, CritiqueRefused
from tools.critique.tool import CRITIQUE_TOOL, CritiqueArgs, critique
from tools.models.registry import ModelRegistry, RegistryConfig
from tools.models.specs import ROLES, ModelKind, ModelUnavailable
from tools.models.text import LoadedCausalLM, load_causal_lm
from tools.models.vision import LoadedClip, LoadedVision, load_clip, load_vision
from tools.poem.tool import POEM_TOOL

HAIKU = "An old silent pond / A frog jumps into the deep pond / splash! silence again"
# Enough for the layout's first label: the tiny model's words are noise either way.
SHORT_WRITING = {"writing_tokens": 12}


@pytest.fixture(scope="session")
def tiny_vision(models_cache_dir: Path) -> LoadedVision:
    return load_vision("tiny:vision", cache_dir=models_cache_dir, device="cpu", dtype="float32")


@pytest.fixture(scope="session")
def tiny_clip(models_cache_dir: Path) -> LoadedClip:
    return load_clip("tiny:clip", cache_dir=models_cache_dir, device="cpu", dtype="float32")


class Models:
    """The roles the critique and poem tools ask for, served by tiny models."""

    def __init__(self, chat: LoadedCausalLM, vision: LoadedVision, clip: LoadedClip) -> None:
        self.by_role = {"critique": chat, "poem": chat, "vision": vision, "clip": clip}

    def get(self, role: str) -> Any:
        return self.by_role[role]


@pytest.fixture(scope="session")
def models(tiny_chat: LoadedCausalLM, tiny_vision: LoadedVision, tiny_clip: LoadedClip) -> Models:
    return Models(tiny_chat, tiny_vision, tiny_clip)


def worded(text: str, **options: Any) -> CritiqueArgs:
    """Args for a request's text as the agent makes them: the fields its words set
    (CRITIQUE_TOOL.reads), explicit options over them."""
    return CritiqueArgs(**{"text": text, **CRITIQUE_TOOL.reads(text), **options})


def brief(tool: Tool) -> Tool:
    """The tool with its writing cut short (the operator setting), so tests stay quick."""

    def run(args: Any, context: ToolContext) -> ArtifactDraft:
        return tool.run(args, dataclasses.replace(context, settings=SHORT_WRITING))

    return dataclasses.replace(tool, run=run)


@contextmanager
def prompts_seen(model: torch.nn.Module, tokenizer: Any) -> Iterator[list[str]]:
    """The text of every prompt the model is run on (steps of a few tokens left out)."""
    seen: list[str] = []

    def record(_module: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        ids = kwargs.get("input_ids", args[0] if args else None)
        if ids is not None and ids.shape[-1] > 8:
            seen.append(tokenizer.decode(ids[0]))

    handle = model.register_forward_pre_hook(record, with_kwargs=True)
    try:
        yield seen
    finally:
        handle.remove()


def image_focus(path: Path, number: int = 7, prompt: str = "colour bars on a test card") -> Any:
    colour_bars().save(path)
    return FocusArtifact(number, ArtifactKind.IMAGE, prompt, None, path, "image/png", {})


def music_focus(path: Path, number: int = 8) -> FocusArtifact:
    soundfile.write(path, click_track(120.0, seconds=6.0), 22050)
    return FocusArtifact(number, ArtifactKind.MUSIC, "a brisk march", None, path, "audio/wav", {})


def context_for(models: Models, focus: FocusArtifact | None = None) -> ToolContext:
    return ToolContext(models=models, settings=SHORT_WRITING, focus=focus)


def assert_well_formed(draft: ArtifactDraft, kind: str, number: int | None) -> None:
    params = draft.params
    assert draft.kind is ArtifactKind.CRITIQUE and draft.from_focus is (number is not None)
    assert params["critiqued"] == {"kind": kind, "number": number}
    assert set(params["scores"]) == set(CRITERIA)
    assert all(isinstance(s, int) and 1 <= s <= 10 for s in params["scores"].values())
    text_lines = (draft.text or "").splitlines()
    for criterion in CRITERIA:
        evidence = params["evidence"][criterion]
        assert evidence and "\n" not in evidence
        line = f"{criterion.capitalize()} {params['scores'][criterion]}/10: "
        marker = "(measured) " if params["evidence_from"][criterion] == "measurements" else ""
        assert line + marker + evidence in text_lines
    suggestions = params["suggestions"]
    assert 2 <= len(suggestions) <= 4
    for number_shown, suggestion in enumerate(suggestions, start=1):
        assert suggestion["from"] in {"model", "measurements"}
        assert any(line.startswith(f"{number_shown}. {suggestion['text']}") for line in text_lines)
    assert len(draft.text or "") <= 1900


# --- one critique of each kind ----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Critiqued:
    draft: ArtifactDraft
    prompts: list[str]  # what the model was run on


@pytest.fixture(scope="module")
def critiqued(
    models: Models,
    tiny_chat: LoadedCausalLM,
    tiny_vision: LoadedVision,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Critiqued]:
    """A critique of each kind, made once for the tests below, with the prompts seen."""
    files = tmp_path_factory.mktemp("pieces")
    made = {}
    with prompts_seen(tiny_chat.model, tiny_chat.tokenizer) as prompts:
        draft = critique(worded(HAIKU, seed=1), context_for(models))
    made["poem"] = Critiqued(draft, prompts)
    with prompts_seen(tiny_vision.model, tiny_vision.tokenizer) as prompts:
        focus = image_focus(files / "bars.png")
        draft = critique(CritiqueArgs(seed=2), context_for(models, focus))
    made["image"] = Critiqued(draft, prompts)
    with prompts_seen(tiny_chat.model, tiny_chat.tokenizer) as prompts:
        args = worded("does the rhythm of #8 work?", seed=3)
        draft = critique(args, context_for(models, music_focus(files / "march.wav")))
    made["music"] = Critiqued(draft, prompts)
    return made


@pytest.mark.parametrize(("kind", "number"), [("poem", None), ("image", 7), ("music", 8)])
def test_each_kind_gets_four_scores_with_evidence_and_numbered_suggestions(
    critiqued: dict[str, Critiqued], kind: str, number: int | None
) -> None:
    assert_well_formed(critiqued[kind].draft, kind, number)


def test_a_pasted_poem_is_critiqued_from_its_form_findings(
    critiqued: dict[str, Critiqued],
) -> None:
    params = critiqued["poem"].draft.params
    measured = params["measurements"]
    assert (measured["form"], measured["form_source"], measured["units"]) == (
        "haiku",
        "closest",
        [5, 8, 5],
    )
    assert params["poem"].splitlines()[1] == "A frog jumps into the deep pond"
    texts = [s["text"] for s in params["suggestions"]]
    assert "Rewrite line 2 to 7 syllables: it has 8." in texts


def test_an_image_is_critiqued_with_its_measurements_and_clip(
    critiqued: dict[str, Critiqued],
) -> None:
    params = critiqued["image"].draft.params
    measured = params["measurements"]
    assert measured["colourfulness"] > 100 and measured["contrast"] > 0.25
    assert -1.0 <= measured["clip_similarity"] <= 1.0 and measured["clip_model"] == "tiny:clip"
    assert params["model"] == "tiny:vision"


def test_music_is_critiqued_from_its_tempo_key_and_levels(
    critiqued: dict[str, Critiqued],
) -> None:
    draft = critiqued["music"].draft
    assert draft.params["measurements"]["tempo_bpm"] == pytest.approx(120, rel=0.05)
    assert "Critique of #8 (music, from 'a brisk march')" in (draft.text or "")


@pytest.mark.parametrize(
    ("kind", "facts"),
    [
        ("poem", ('"A frog jumps into the deep pond" - 8 syllables, wanted 7', "pond x2")),
        ("music", ("tempo 120 BPM", "dynamic range", "spectral centroid")),
        ("image", ("contrast 0.3", "colourfulness 2", "CLIP similarity to its prompt", "<image>")),
    ],
)
def test_the_measurements_are_in_every_prompt_the_model_received(
    critiqued: dict[str, Critiqued], kind: str, facts: tuple[str, ...]
) -> None:
    prompts = critiqued[kind].prompts
    assert len(prompts) == 5  # four scores, then the writing
    for prompt in prompts:
        assert all(fact in prompt for fact in facts), prompt


def test_a_request_that_is_not_a_poem_tells_the_critic_what_to_look_at(
    critiqued: dict[str, Critiqued],
) -> None:
    assert critiqued["music"].draft.params["asked"] == "does the rhythm of it work?"
    for prompt in critiqued["music"].prompts:
        assert "look especially at: does the rhythm" in prompt


# --- scores and words from the model ------------------------------------------------------------


def test_score_odds_are_a_distribution_over_one_to_ten(tiny_chat: LoadedCausalLM) -> None:
    reader = text_reader(tiny_chat)
    odds = score_odds(reader, reader.render([("user", "Rate it from 1 to 10.")]))
    assert sorted(odds) == list(range(1, 11))
    assert sum(odds.values()) == pytest.approx(1.0) and min(odds.values()) > 0


class DigitModel(torch.nn.Module):
    """A model whose next token depends only on the last one: after the prompt it says "1"
    or "7" evenly; after "1" it goes on to "0" half the time. So "10" has odds 1/4, "1" alone
    1/4, "7" 1/2: a score's first token must not be counted as the whole score."""

    def __init__(self, vocab: dict[str, int], size: int) -> None:
        super().__init__()
        self.vocab, self.size = vocab, size

    def forward(self, input_ids: torch.Tensor, **_: Any) -> SimpleNamespace:
        logits = torch.full((1, input_ids.shape[1], self.size), -1e9)
        last = int(input_ids[0, -1])
        if last == self.vocab["1"]:
            logits[0, -1, self.vocab["0"]] = logits[0, -1, self.vocab["."]] = 0.0
        else:
            logits[0, -1, self.vocab["1"]] = logits[0, -1, self.vocab["7"]] = 0.0
        return SimpleNamespace(logits=logits, cache=None, past_key_values=None)


def test_a_score_that_begins_a_longer_one_counts_only_when_the_model_stops(
    tiny_chat: LoadedCausalLM,
) -> None:
    tokenizer = tiny_chat.tokenizer
    vocab = {c: tokenizer.convert_tokens_to_ids(c) for c in "0123456789."}
    doubled = dataclasses.replace(
        text_reader(tiny_chat), model=DigitModel(vocab, len(tokenizer)), lock=tiny_chat.lock
    )
    odds = score_odds(doubled, "Score:")
    assert odds[7] == pytest.approx(0.5, abs=1e-6)
    assert odds[1] == pytest.approx(0.25, abs=1e-6) and odds[10] == pytest.approx(0.25, abs=1e-6)


def test_a_well_formed_reply_is_taken_as_the_models_words() -> None:
    reply = (
        "Creativity: The frog and the pond are a familiar pairing, but the splash is vivid.\n"
        "Aesthetics: **The sound of the last line is clean and spare.**\n"
        "Technique: Line 2 has one syllable too many for the form.\n"
        "Emotional impact: The silence after the splash lands with a quiet weight.\n"
        "Suggestions:\n"
        "1. Cut one syllable from line 2 so that it keeps the form.\n"
        "2) Replace the word pond in line 2 with a sound.\n"
        "3. The poem is nice.\n"  # a remark, not an action
    )
    written = parse_written(reply, prompt="Rate this haiku.")
    assert set(written.evidence) == set(CRITERIA)
    assert written.evidence["aesthetics"] == "The sound of the last line is clean and spare."
    assert written.suggestions == [
        "Cut one syllable from line 2 so that it keeps the form.",
        "Replace the word pond in line 2 with a sound.",
    ]


@pytest.mark.parametrize(
    "garbage",
    [
        "Creativity: longstanding outlets Sharkindent primordial Hanukkahchron situ Likewise",
        "Creativity: ...\nAesthetics: <one sentence>\nSuggestions:\n1. ...",
        "Creativity: the the the the the the",
        "Creativity: Rate its creativity on a scale from 1 to 10",  # the prompt, echoed
    ],
)
def test_unusable_words_are_not_passed_off_as_the_models(garbage: str) -> None:
    prompt = "Rate its creativity on a scale from 1 (poor) to 10 (outstanding)."
    written = parse_written(garbage, prompt=prompt)
    assert written.evidence == {} and written.suggestions == []


def test_a_random_models_words_are_replaced_by_the_figures_and_marked(models: Models) -> None:
    """Random weights write word salad: none of it may pass as the model's judgement."""
    context = dataclasses.replace(context_for(models), settings={"writing_tokens": 40})
    draft = critique(worded(HAIKU, seed=1), context)
    params, text = draft.params, draft.text or ""
    assert set(params["evidence_from"].values()) == {"measurements"}
    assert {s["from"] for s in params["suggestions"]} == {"measurements"}
    assert text.count("(measured) ") == 4 and text.count("(from the measurements)") == len(
        params["suggestions"]
    )
    assert "(measured): the model wrote nothing usable there, so the figures stand in." in text
    technique = params["scores"]["technique"]
    assert f"Technique {technique}/10: (measured) syllables per line: 5, 8, 5 (haiku)." in text


# --- what can be critiqued --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (HAIKU, "An old silent pond\nA frog jumps into the deep pond\nsplash! silence again"),
        ("what do you think of this:\nrain on tin\nthe roof hums", "rain on tin\nthe roof hums"),
        (
            "床前明月光，疑是地上霜。举头望明月，低头思故乡。",
            "床前明月光\n疑是地上霜\n举头望明月\n低头思故乡",
        ),
        ("你觉得#3怎么样，请给点意见", None),
        ("critique #4", None),
        ("judge my haiku honestly", None),
        ("", None),
    ],
)
def test_a_poem_in_the_message_is_told_from_a_request(text: str, expected: str | None) -> None:
    assert pasted_poem(text) == expected


def test_nothing_to_critique_asks_which_piece(models: Models) -> None:
    with pytest.raises(CritiqueRefused) as refused:
        critique(CritiqueArgs(text="be harsh"), context_for(models))
    assert str(refused.value) == ASK_WHICH and "\n" not in ASK_WHICH


def test_a_file_of_another_type_is_refused_with_the_types_supported(
    models: Models, tmp_path: Path
) -> None:
    tiff = tmp_path / "scan.tiff"
    tiff.write_bytes(b"II*\x00")
    focus = FocusArtifact(5, ArtifactKind.IMAGE, "scan", None, tiff, "image/tiff", {})
    with pytest.raises(CritiqueRefused) as refused:
        critique(CritiqueArgs(), context_for(models, focus))
    assert str(refused.value) == f"#5 is a file of type image/tiff. {SUPPORTED}"
    assert "PNG, JPEG" in SUPPORTED and "WAV, FLAC, OGG, MP3" in SUPPORTED


def test_a_broken_file_is_refused_plainly(models: Models, tmp_path: Path) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    focus = FocusArtifact(6, ArtifactKind.IMAGE, "x", None, broken, "image/png", {})
    with pytest.raises(CritiqueRefused, match=r"^I can't read #6's image"):
        critique(CritiqueArgs(), context_for(models, focus))
    (tmp_path / "broken.wav").write_bytes(b"RIFF....WAVE")
    sound = FocusArtifact(
        9, ArtifactKind.MUSIC, "x", None, tmp_path / "broken.wav", "audio/wav", {}
    )
    with pytest.raises(CritiqueRefused, match=r"^I can't read #9's audio"):
        critique(CritiqueArgs(), context_for(models, sound))


def test_a_critique_is_not_critiqued(models: Models) -> None:
    focus = FocusArtifact(3, ArtifactKind.CRITIQUE, "critique", "Creativity 5/10", None, None, {})
    with pytest.raises(CritiqueRefused, match=r"^#3 is itself a critique\. So which piece"):
        critique(CritiqueArgs(), context_for(models, focus))


# --- through the agent: lineage ---------------------------------------------------------------


@pytest.fixture
def critic(make_studio: MakeWorkshop, models: Models) -> Workshop:
    return make_studio([VERSE, TRACE, brief(CRITIQUE_TOOL)], models=models)


async def test_a_critique_of_a_piece_is_its_child_and_shows_its_scores(critic: Workshop) -> None:
    await critic.command("/verse a heron")
    reply = await critic.command("/critique seed=4")
    poem, review = await critic.artifacts()
    assert (review.kind, review.parent_id, review.root_id) == ("critique", poem.id, None)
    assert review.params["critiqued"] == {"kind": "poem", "number": poem.id}
    for criterion in CRITERIA:
        assert re.search(rf"^{criterion.capitalize()} \d+/10: ", reply.text, re.MULTILINE)
    assert f'"apply suggestion 1" (or 2, 3 ...) to revise #{poem.id}' in reply.text
    assert reply.artifacts[0].number == review.id


async def test_an_uploaded_picture_is_kept_and_critiqued_as_its_child(critic: Workshop) -> None:
    grey = Attachment("mine.pgm", PGM, PGM_HEADER + bytes(range(256)))
    await critic.command("/critique seed=1", attachments=[grey])
    upload, review = await critic.artifacts()
    assert (upload.kind, review.kind, review.parent_id) == ("image", "critique", upload.id)
    # An upload was made from no prompt: nothing to compare with, and nothing invented.
    assert "clip_similarity" not in review.params["measurements"]
    assert "CLIP similarity to its prompt: none to compare with (an upload)" in (review.text or "")


async def test_nothing_to_critique_is_asked_about_and_nothing_is_kept(critic: Workshop) -> None:
    reply = await critic.command("/critique be harsh")
    assert reply.text == ASK_WHICH and not reply.stored
    await critic.command("/verse a heron")
    await critic.command("/critique seed=1")
    again = await critic.command("/critique seed=1")  # the latest piece is now the critique
    assert again.text.startswith("#2 is itself a critique. So which piece")
    assert [a.kind for a in await critic.artifacts()] == ["poem", "critique"]
    assert len(await critic.messages()) == 4  # the two that made something, each with a reply


# --- apply suggestion N -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "number", "rest"),
    [
        ("apply suggestion 2", 2, ""),
        ("Apply suggestion #3 of #7", 3, "of #7"),
        ("please use the second suggestion", 2, "please"),
        ("suggestion 2 please", 2, ""),
        ("I disagree with suggestion 2", None, None),
        ("make a suggestion for a title", None, None),
    ],
)
def test_a_request_to_apply_a_suggestion_is_recognised(
    text: str, number: int | None, rest: str | None
) -> None:
    ask = asked_suggestion(text)
    assert (ask.number, ask.rest) == (number, rest) if ask else number is None


@pytest.fixture
def reviser(make_studio: MakeWorkshop, models: Models) -> Workshop:
    # "make it darker" is the router's REVISE choice: a change to the piece in focus.
    router = ScriptedRouter({"make it darker": Decision(REVISE)})
    return make_studio([VERSE, POEM_TOOL, brief(CRITIQUE_TOOL)], models=models, router=router)


async def critique_pasted(workshop: Workshop, poem: str, seed: int) -> Reply:
    """/critique with a poem pasted as its `poem` field (a console line cannot hold one)."""
    command = Command("critique", {"seed": seed, "poem": poem})
    return await workshop.agent.respond(Turn("test", UserRef("ada", "Ada"), PLACE, command=command))


async def test_applying_a_suggestion_revises_the_critiqued_piece_as_a_child(
    reviser: Workshop,
) -> None:
    await reviser.command("/verse a heron")
    await reviser.command("/critique seed=2")
    reply = await reviser.say("apply suggestion 2")  # through the agent, as a person says it
    poem, review, revised = await reviser.artifacts()
    suggestion = review.params["suggestions"][1]["text"]
    assert (revised.kind, revised.parent_id, revised.root_id) == ("poem", poem.id, poem.id)
    assert revised.version == 2 and revised.prompt == suggestion
    assert reply is not None and reply.artifacts[0].number == revised.id
    assert re.search(r"line \d+", suggestion)  # the poem tool rewrites just that line
    assert "changed line" in reply.text or "nothing changed" in reply.text


async def test_a_pasted_poems_suggestion_keeps_the_poem_then_revises_it(
    reviser: Workshop,
) -> None:
    await critique_pasted(reviser, HAIKU, seed=1)
    await reviser.say("use suggestion #1")
    review, pasted, revised = await reviser.artifacts()
    assert review.parent_id is None and pasted.kind == "poem"
    assert (pasted.text or "").splitlines()[1] == "A frog jumps into the deep pond"
    assert (revised.parent_id, revised.root_id) == (pasted.id, pasted.id)
    assert revised.prompt == "Rewrite line 2 to 7 syllables: it has 8."


async def test_a_suggestion_that_cannot_be_applied_is_explained(reviser: Workshop) -> None:
    await reviser.command("/verse a heron")
    assert asked_suggestion("what a heron") is None  # not a request: the turn goes on
    no_critique = await reviser.say("apply suggestion 1")
    assert no_critique is not None and no_critique.text.startswith("Which critique's suggestion?")
    await reviser.command("/critique seed=2")
    too_far = await reviser.say("apply suggestion 9")
    assert too_far is not None and "there is no suggestion 9" in too_far.text
    assert not too_far.stored and len(await reviser.artifacts()) == 2


async def test_a_change_asked_after_a_critique_revises_the_critiqued_piece(
    reviser: Workshop,
) -> None:
    await critique_pasted(reviser, HAIKU, seed=1)  # a pasted poem: no piece to change
    pasted = await reviser.say("make it darker")
    assert pasted is not None and pasted.text.startswith("Critique #1 is not about a piece")
    await reviser.command("/verse a heron")
    await reviser.command("/critique seed=2")
    reply = await reviser.say("make it darker")
    _pasted_review, poem, _review, revised = await reviser.artifacts()
    assert (revised.kind, revised.parent_id, revised.version) == ("poem", poem.id, 2)
    assert reply is not None and reply.artifacts[0].number == revised.id


def test_only_a_tool_that_revises_that_kind_is_asked() -> None:
    review = SimpleNamespace(
        id=4,
        kind="critique",
        parent_id=3,
        params={"critiqued": {"kind": "image"}, "suggestions": [{"text": "Add light."}] * 2},
    )
    with pytest.raises(CannotRevise, match="No tool here can revise an image yet"):
        plan_revision(review, 1, [POEM_TOOL])  # type: ignore[arg-type]
    drawing = dataclasses.replace(
        TRACE, revision=lambda instruction: TRACE.args(prompt=instruction)
    )
    planned = plan_revision(review, 2, [POEM_TOOL, drawing])  # type: ignore[arg-type]
    assert (planned.tool.name, planned.piece_number, planned.instruction) == (
        "trace",
        3,
        "Add light.",
    )


# --- the loaders --------------------------------------------------------------------------------


def registry(models_cache_dir: Path, **specs: str) -> ModelRegistry:
    every = {name: "tiny:chat" for name in ROLES} | {"vision": "tiny:vision", "clip": "tiny:clip"}
    config = RegistryConfig(specs=every | specs, models_dir=models_cache_dir, device="cpu")
    loaders = {
        ModelKind.TEXT: load_causal_lm,
        ModelKind.VISION: load_vision,
        ModelKind.CLIP: load_clip,
    }
    return ModelRegistry(config, loaders=loaders)


def test_the_vision_and_clip_loaders_serve_the_registry(models_cache_dir: Path) -> None:
    models = registry(models_cache_dir)
    vision, clip = models.get("vision"), models.get("clip")
    assert isinstance(vision, LoadedVision) and isinstance(clip, LoadedClip)
    assert vision.memory_bytes() > 0 and clip.memory_bytes() > 0
    assert type(vision.model).__name__ == "Idefics3ForConditionalGeneration"
    assert models.get("vision") is vision  # loaded once


@pytest.mark.parametrize(
    ("role", "spec", "reason"),
    [
        ("vision", "HuggingFaceTB/SmolVLM-500M-Instruct", "offline and not in the local cache"),
        ("clip", "tiny:giant", "no such built-in clip model"),
        ("vision", "/no/such/dir", "not a model spec"),
    ],
)
def test_a_missing_model_names_its_setting(
    models_cache_dir: Path, role: str, spec: str, reason: str
) -> None:
    with pytest.raises(ModelUnavailable) as missing:
        registry(models_cache_dir, **{role: spec}).get(role)
    message = str(missing.value)
    assert message.startswith(f"the {role} model {spec!r} cannot be loaded ({reason}")
    assert f"ATELIER_MODEL_{role.upper()}" in message and "\n" not in message
