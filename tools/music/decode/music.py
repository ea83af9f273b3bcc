"""generate()'s replacement for the music tool: processor inputs in, EnCodec's audio out, the
tokens in between from our decode loop. The audio decode is the model's own, as in
generate(); stereo models are left to generate() (supports() says which)."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from transformers import MusicgenForConditionalGeneration

from tools.music.decode.inputs import prompt_codes
from tools.music.decode.loop import OnStep, Text, decode_codes
from tools.music.decode.sampling import Sampling


def supports(model: MusicgenForConditionalGeneration) -> bool:
    """Mono models: a stereo model interleaves two channels' codebooks, which this loop
    does not decode."""
    return int(model.decoder.config.audio_channels) == 1


def seeded_generator(device: torch.device) -> torch.Generator:
    """A generator seeded from the global random state, which the music tool seeds per run
    (tools/models/sampling.py seeded): the same seed gives the same clip, and the draw is
    made once, before the loop."""
    seed = int(torch.randint(0, 2**62, (1,)).item())
    return torch.Generator(device=device).manual_seed(seed)


def generate_audio(
    model: MusicgenForConditionalGeneration,
    inputs: Mapping[str, torch.Tensor],
    steps: int,
    *,
    guidance: float,
    greedy: bool = False,
    generator: torch.Generator | None = None,
    on_step: OnStep | None = None,
    use_graphs: bool = True,
) -> torch.Tensor:
    """Audio (batch, channels, samples) as model.generate(**inputs, max_new_tokens=steps,
    guidance_scale=guidance) makes it, sampling as the model's generation config says
    (top-k) unless `greedy`. Call under torch.inference_mode."""
    device = inputs["input_ids"].device
    codes, scales = None, None
    if "input_values" in inputs:
        codes, scales = prompt_codes(model, inputs["input_values"], inputs.get("padding_mask"))
    audio_codes = decode_codes(
        model,
        Text(inputs["input_ids"], inputs["attention_mask"]),
        steps,
        guidance=guidance,
        sampling=Sampling.of(model.generation_config, greedy=greedy),
        generator=generator if generator is not None or greedy else seeded_generator(device),
        prompt_codes=codes,
        on_step=on_step,
        use_graphs=use_graphs,
    )
    batch = audio_codes.shape[0]
    audio_scales = scales if scales is not None else [None] * batch
    return model.audio_encoder.decode(audio_codes[None], audio_scales=audio_scales).audio_values
