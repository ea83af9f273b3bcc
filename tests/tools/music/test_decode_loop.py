"""Our MusicGen decode loop (tools/music/decode/) against transformers' generate() on the tiny
random-weight model: greedy tokens are exactly generate()'s, with and without guidance, at
batch 1 and 2, and continuing an audio prompt; sampled clips follow the seed; every sampled
token is among the top k. The CUDA-graph runner needs a GPU and is not exercised here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tests.support.threads import one_thread  # noqa: F401 - autouse
from tools.models.sampling import seeded
from tools.music.decode import step as step_module
from tools.music.decode.inputs import pad_token, prompt_codes, start_ids, start_token, text_states
from tools.music.decode.loop import Text, clip_start, decode_codes
from tools.music.decode.music import generate_audio
from tools.music.decode.pattern import codes_from, delay_pattern
from tools.music.decode.runners import LENGTH_BUCKET, TEXT_BUCKET, EagerRunner, bucketed
from tools.music.decode.sampling import Sampling, choose, draw_noise
from tools.music.decode.step import DecoderStep
from tools.music.model import LoadedMusicGen, generate_music, load_music_model

STEPS = 40  # decoder steps: 37 frames of four codebooks


@pytest.fixture(scope="module")
def music(models_cache_dir: Path) -> LoadedMusicGen:
    return load_music_model("tiny:music", cache_dir=models_cache_dir, device="cpu", dtype="float32")


def generate_codes(
    music: LoadedMusicGen, inputs: dict[str, torch.Tensor], guidance: float
) -> torch.Tensor:
    """The codes generate() hands EnCodec, greedy: what the loop must reproduce."""
    codec = music.model.audio_encoder
    seen: list[torch.Tensor] = []
    decode = codec.decode

    def spy(audio_codes: torch.Tensor, *args: object, **kwargs: object) -> object:
        seen.append(audio_codes[0].clone())
        return decode(audio_codes, *args, **kwargs)

    codec.decode = spy
    try:
        with torch.inference_mode():
            music.model.generate(
                **inputs, do_sample=False, guidance_scale=guidance, max_new_tokens=STEPS
            )
    finally:
        del codec.decode  # the instance attribute; the class's method shows through again
    [codes] = seen
    return codes


def loop_codes(
    music: LoadedMusicGen, inputs: dict[str, torch.Tensor], guidance: float
) -> torch.Tensor:
    prompt = None
    if "input_values" in inputs:
        prompt, _ = prompt_codes(music.model, inputs["input_values"], inputs["padding_mask"])
    text = Text(inputs["input_ids"], inputs["attention_mask"])
    with torch.inference_mode():
        return decode_codes(
            music.model,
            text,
            STEPS,
            guidance=guidance,
            sampling=Sampling(greedy=True),
            prompt_codes=prompt,
        )


@pytest.mark.parametrize("guidance", [1.0, 3.0], ids=["unguided", "guided"])
@pytest.mark.parametrize(
    "descriptions",
    [["rainy night jazz"], ["rainy night jazz", "a sad violin melody in a minor key with cello"]],
    ids=["batch1", "batch2"],
)
def test_greedy_tokens_are_exactly_generates(
    music: LoadedMusicGen, descriptions: list[str], guidance: float
) -> None:
    inputs = dict(music.processor(text=descriptions, padding=True, return_tensors="pt"))
    expected = generate_codes(music, inputs, guidance)
    made = loop_codes(music, inputs, guidance)
    assert made.shape == (len(descriptions), music.codebooks, STEPS - music.codebooks + 1)
    assert torch.equal(made, expected)


def test_greedy_continuation_of_an_audio_prompt_is_generates(music: LoadedMusicGen) -> None:
    """An extension: the prompt's codes are forced through the delay pattern, then the new."""
    prompt = np.random.default_rng(0).standard_normal(10 * music.hop_length).astype(np.float32)
    inputs = dict(
        music.processor(
            text=["lofi hip hop beat"],
            audio=[prompt * 0.1],
            sampling_rate=music.sampling_rate,
            padding=True,
            return_tensors="pt",
        )
    )
    expected = generate_codes(music, inputs, 3.0)
    made = loop_codes(music, inputs, 3.0)
    assert made.shape[-1] == 10 + STEPS - music.codebooks + 1
    assert torch.equal(made, expected)


def clip(music: LoadedMusicGen, seed: int, fast_decode: bool = True) -> np.ndarray:
    with seeded(seed, music.device):
        return generate_music(music, ["calm ambient synth pads"], 0.5, fast_decode=fast_decode)


def test_the_same_seed_gives_the_same_clip_and_another_seed_another(
    music: LoadedMusicGen,
) -> None:
    first = clip(music, seed=11)
    assert first.shape == (1, music.sampling_rate // 2)
    assert np.array_equal(first, clip(music, seed=11))
    assert not np.allclose(first, clip(music, seed=12))


def test_generate_stays_available_and_makes_a_clip_as_long(music: LoadedMusicGen) -> None:
    fast, through_generate = clip(music, 3), clip(music, 3, fast_decode=False)
    assert fast.shape == through_generate.shape == (1, music.sampling_rate // 2)
    assert np.isfinite(through_generate).all() and np.abs(through_generate).max() > 0


def test_the_sampler_only_ever_picks_among_the_top_k() -> None:
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn((4000, 64), generator=generator)
    noise = draw_noise(generator, 1, 4000, 5, torch.device("cpu"))[0]
    picked = choose(logits, Sampling(top_k=5), noise)
    top = logits.topk(5, dim=-1).indices
    assert (top == picked[:, None]).any(dim=-1).all()
    # It samples rather than taking the best: each of the five places is picked.
    places = (top == picked[:, None]).float().argmax(dim=-1)
    assert set(places.tolist()) == {0, 1, 2, 3, 4}


def test_the_loop_samples_each_token_among_the_top_k_of_its_guided_logits(
    music: LoadedMusicGen, monkeypatch: pytest.MonkeyPatch
) -> None:
    choices: list[tuple[torch.Tensor, torch.Tensor]] = []

    def recording(
        logits: torch.Tensor, sampling: Sampling, noise: torch.Tensor | None
    ) -> torch.Tensor:
        picked = choose(logits, sampling, noise)
        choices.append((logits.clone(), picked.clone()))
        return picked

    monkeypatch.setattr(step_module, "choose", recording)
    monkeypatch.setattr(music.model.generation_config, "top_k", 3)
    inputs = dict(music.processor(text=["epic orchestral strings"], return_tensors="pt"))
    with torch.inference_mode(), seeded(5, music.device):
        audio = generate_audio(music.model, inputs, STEPS, guidance=3.0)
    assert audio.shape[0] == 1 and len(choices) == STEPS
    for logits, picked in choices:
        assert logits.shape == (music.codebooks, 64)  # guided: one row per codebook
        top = logits.topk(3, dim=-1).indices
        assert (top == picked[:, None]).any(dim=-1).all()
    assert any(not torch.equal(p, lg.argmax(-1)) for lg, p in choices)  # not greedy


def test_a_clip_longer_than_the_models_positions_is_refused_before_any_step(
    music: LoadedMusicGen,
) -> None:
    inputs = music.processor(text=["march"], return_tensors="pt")
    text = Text(inputs["input_ids"], inputs["attention_mask"])
    with torch.inference_mode(), pytest.raises(ValueError, match="more than the model's 2048"):
        decode_codes(music.model, text, music.max_steps, guidance=3.0, sampling=Sampling())


def test_the_padded_buffers_a_cuda_graph_replays_give_the_same_tokens(
    music: LoadedMusicGen,
) -> None:
    """A graph runs a clip in its length and text buckets (masked slots past the clip's and
    the description's ends); the same step run eagerly in those buffers changes nothing."""
    inputs = dict(music.processor(text=["solo piano, gentle"], return_tensors="pt"))
    expected = loop_codes(music, inputs, 3.0)
    model = music.model
    with torch.inference_mode():
        states, mask = text_states(model, inputs["input_ids"], inputs["attention_mask"], True)
        pattern = delay_pattern(model.decoder, start_ids(model, 1, None), STEPS, start_token(model))
        capacity = bucketed(pattern.length, LENGTH_BUCKET)
        start = clip_start(model, pattern, capacity, states, mask, Sampling(greedy=True), None)
        step = DecoderStep(model, 3.0, Sampling(greedy=True))
        runner = EagerRunner(step, model, start, bucketed(states.shape[1], TEXT_BUCKET))
        for _ in range(pattern.length - 1):
            runner.advance()
        made = codes_from(model.decoder, runner.state.sequence, pattern, pad_token(model))
    assert capacity > pattern.length and runner.state.cache.text_mask.shape[-1] > states.shape[1]
    assert torch.equal(made, expected)
