"""The result of a run: the PNG (a grid when several were made, each image also a piece of its
own), its parameters as stored and as AUTOMATIC1111 writes them into the PNG
(tools/image/png_params.py; encoded in worker processes, tools/image/png_pool.py), and the
one-line note that says what was made or what changed
(`prompt: +at sunset · seed 7 → 7 · strength 0.55`). The parameters say which decoder made the
pixels: `vae`, or the tiny decoder's spec (tools/image/decoders.py), and the trained style it
wore, by name and piece (tools/image/personal_style.py)."""

from __future__ import annotations

import difflib
import math
from collections.abc import Sequence
from typing import Any

from PIL import Image

from tools.contract import ArtifactDraft, ArtifactKind, Media
from tools.image.decoders import FULL_VAE
from tools.image.loaded import LoadedImagePipeline
from tools.image.png_params import GenerationParameters
from tools.image.png_pool import encode_pngs
from tools.image.recipes import Recipe
from tools.image.sizes import make_grid
from tools.image.uploads import PNG


def to_draft(
    recipe: Recipe, images: list[Image.Image], loaded: LoadedImagePipeline
) -> ArtifactDraft:
    """The picture (a grid when several were made) and, for a grid, each image as a piece of
    its own with its own seed, so "a variation of #15" can name one of them."""
    seeds = recipe.render.seeds
    sources = (recipe.base, recipe.poem, recipe.reference, recipe.cover_of)
    from_focus = any(source is not None for source in sources)
    # A picture in the style of a reference is a new piece made from it, not a version.
    source_only = recipe.reference is not None
    picture, cols = make_grid(images) if len(images) > 1 else (images[0], 1)
    params = image_params(recipe, loaded, seeds)
    if len(images) > 1:
        params["grid"] = {"cols": cols, "rows": math.ceil(len(images) / cols)}
    cells = list(zip(images, seeds, strict=True)) if len(images) > 1 else []
    # The picture and each cell of a grid, encoded side by side.
    picture_png, *cell_pngs = encode_pngs(
        [
            (picture, a1111_parameters(recipe, loaded, seeds)),
            *((image, a1111_parameters(recipe, loaded, (seed,))) for image, seed in cells),
        ]
    )
    singles = tuple(
        ArtifactDraft(
            ArtifactKind.IMAGE,
            media=Media(png, PNG),
            params={**image_params(recipe, loaded, (seed,)), "cell": cell},
            from_focus=from_focus,
            focus_is_source=source_only,
        )
        for cell, ((_image, seed), png) in enumerate(zip(cells, cell_pngs, strict=True), start=1)
    )
    return ArtifactDraft(
        ArtifactKind.IMAGE,
        media=Media(picture_png, PNG),
        params=params,
        from_focus=from_focus,
        focus_is_source=source_only,
        note=describe(recipe, loaded),
        parts=singles,
    )


def image_params(
    recipe: Recipe, loaded: LoadedImagePipeline, seeds: Sequence[int]
) -> dict[str, Any]:
    job = recipe.render
    params: dict[str, Any] = {
        "model": loaded.spec,
        "mode": recipe.mode,
        "prompt": job.prompt,
        "negative_prompt": job.negative_prompt,
        "seed": seeds[0],
        "seeds": list(seeds),
        "steps": recipe.steps,
        "guidance": job.guidance,
        "sampler": loaded.sampler,
        "width": job.width,
        "height": job.height,
        "aspect": recipe.aspect,
        "count": len(seeds),
        "strength": None if recipe.base is None else job.strength,
        "decoder": decoder_name(recipe, loaded),
    }
    if recipe.base is not None:
        params["from"] = {"number": recipe.base.number, "pick": recipe.base.pick}
    if recipe.poem is not None:
        params["poem"] = recipe.poem
    if recipe.cover_of is not None:
        params["cover_of"] = recipe.cover_of
    if recipe.taste:
        params["taste"] = recipe.taste.as_params()
    if job.style is not None:  # the trained style worn (tools/image/personal_style.py)
        params["style_name"] = job.style.name
        params["style_piece"] = job.style.number
    if recipe.reference is not None:
        params["style_image"] = {
            "number": recipe.reference.number,
            "pick": recipe.reference.pick,
            "strength": job.reference_strength,
            "ip_adapter": job.ip_adapter,
        }
    return params


def a1111_parameters(
    recipe: Recipe, loaded: LoadedImagePipeline, seeds: Sequence[int]
) -> GenerationParameters:
    job = recipe.render
    extra: dict[str, str] = {}
    if recipe.base is not None:
        extra["Denoising strength"] = f"{job.strength:g}"
    if len(seeds) > 1:
        extra["Batch size"] = str(len(seeds))  # seeds run on from Seed, as the web UI does
    if recipe.reference is not None:
        extra["Style image"] = f"#{recipe.reference.number}"
        extra["Style strength"] = f"{job.reference_strength:g}"
        extra["IP-Adapter"] = str(job.ip_adapter)
    if job.style is not None:
        extra["Style"] = f"{job.style.name} (#{job.style.number})"
    if recipe.render.tiny_decoder:
        extra["VAE"] = decoder_name(recipe, loaded)  # the web UI names a VAE not the model's
    return GenerationParameters(
        prompt=job.prompt,
        negative_prompt=job.negative_prompt,
        steps=job.steps,
        sampler=loaded.sampler,
        cfg_scale=job.guidance,
        seed=seeds[0],
        width=job.width,
        height=job.height,
        model=loaded.spec,
        extra=extra,
    )


def decoder_name(recipe: Recipe, loaded: LoadedImagePipeline) -> str:
    """`vae` (the model's own), or the spec of the tiny decoder that made the pixels."""
    if recipe.render.tiny_decoder and loaded.decoder is not None:
        return loaded.decoder.spec
    return FULL_VAE


def describe(recipe: Recipe, loaded: LoadedImagePipeline) -> str:
    """One line: what was made, or what changed from the image built on."""
    job = recipe.render
    seeds = job.seeds
    seed_text = f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {seeds[0]}–{seeds[-1]}"
    base = recipe.base
    if base is None:
        parts = [seed_text, f"{recipe.steps} steps", f"{job.width}x{job.height}", loaded.spec]
        if recipe.taste:
            parts.insert(0, f"from your kept pictures: {recipe.taste.words()}")
        if recipe.poem is not None:
            parts.insert(0, f"painted from the lines of #{recipe.poem}")
        if recipe.cover_of is not None:
            parts.insert(0, f"a cover for #{recipe.cover_of}")
        if recipe.reference is not None:
            style = f"in the style of #{recipe.reference.number}"
            parts.insert(0, f"{style} (strength {job.reference_strength:g})")
    else:
        old_seed = "none" if base.seed is None else str(base.seed)
        parts = [prompt_diff(base.prompt, job.prompt), f"seed {old_seed} → {seeds[0]}"]
        if len(seeds) > 1:
            parts[-1] += f"–{seeds[-1]}"
        parts.append(f"strength {job.strength:g}")
        if recipe.mode == "upscale":
            parts.insert(0, f"upscaled ×2 to {job.width}x{job.height}")
        if base.pick is not None:
            parts.append(f"from image {base.pick} of #{base.number}")
    if job.style is not None:
        parts.insert(0, f"in your style {job.style.name!r} (#{job.style.number})")
    if len(seeds) > 1:
        parts.append("pick=N chooses one to vary or upscale")
    return " · ".join([*parts, *recipe.notes])


def prompt_diff(old: str, new: str) -> str:
    """`prompt: +at sunset`, or the words taken out and put in: `prompt: -cat +dog`."""
    if old == new:
        return "prompt unchanged"
    if new.startswith(old):
        return "prompt: +" + new[len(old) :].strip(" ,;")
    before, after = old.split(), new.split()
    parts = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=before, b=after).get_opcodes():
        if tag in ("delete", "replace"):
            parts.append("-" + " ".join(before[i1:i2]))
        if tag in ("insert", "replace"):
            parts.append("+" + " ".join(after[j1:j2]))
    text = " ".join(parts)
    return "prompt: " + (text if len(text) <= 120 else text[:119] + "…")
