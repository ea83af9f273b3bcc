"""How often a poem meets its form, how close it stays to its topic, and how long it takes:
(a) one sample, (b) the generate-check-repair path, (c) constrained decoding.

Run:
    .venv/bin/python bench/poem_forms.py                          # 10 topics x 7 forms x a,b,c
    .venv/bin/python bench/poem_forms.py --topics 3 --methods a,c --forms haiku,wujue

For each form and topic, with seed = the topic's number, bundled SmolLM2 on the CPU in float32:
  (a) one sampled poem, trimmed to the form's line count, checked;
  (b) the old path, called explicitly: several candidates, the best by the checker
      (tools/poem/choose.py best_candidate), its failing lines regenerated (repair);
  (c) the poem tool's constrained path: write_poem once tools/poem/tool.py uses
      tools/poem/constrained/, else tools/poem/constrained/write.py's candidates, the best by
      the checker (the header line says which ran).
Prints per form and method the share of poems the checker passes, the mean topic score
(tools/poem/topic.py with the bundled MiniLM; Chinese poems are not scored by it, "n/a"),
and the median and max seconds per poem.
"""

from __future__ import annotations

import argparse
import inspect
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from tools.contract import ToolContext  # noqa: E402
from tools.models.embedding import LoadedEmbedding, load_embedding  # noqa: E402
from tools.models.text import LoadedCausalLM, load_causal_lm  # noqa: E402
from tools.poem import tool as poem_tool  # noqa: E402
from tools.poem.choose import best_candidate, fit_lines, repair, sample_clean  # noqa: E402
from tools.poem.constrained.spec import PoemSpec  # noqa: E402
from tools.poem.constrained.write import form_slots, write  # noqa: E402
from tools.poem.forms import check  # noqa: E402
from tools.poem.prompts import poem_prompt  # noqa: E402
from tools.poem.tool import PoemArgs, plan_poem, write_poem  # noqa: E402
from tools.poem.topic import score_poem  # noqa: E402

TOPICS = (
    "a heron in the rain",
    "leaving home",
    "the sea at dawn",
    "a city at night",
    "my grandmother's kitchen",
    "autumn leaves",
    "a cat asleep in the sun",
    "the first snow",
    "an old bicycle",
    "friendship",
)
FORMS = ("haiku", "tanka", "limerick", "quatrain", "sonnet", "wujue", "qilv")
METHODS = ("a", "b", "c")
Method = Callable[[LoadedCausalLM, PoemArgs], str]


class OneModel:
    def __init__(self, loaded: LoadedCausalLM) -> None:
        self.loaded = loaded

    def get(self, role: str) -> LoadedCausalLM:
        return self.loaded


def single_sample(loaded: LoadedCausalLM, args: PoemArgs) -> str:
    plan = plan_poem(args)
    [reply] = sample_clean(loaded, poem_prompt(args, plan), count=1, seed=args.seed or 0)
    return fit_lines(reply, plan)


def repair_path(loaded: LoadedCausalLM, args: PoemArgs) -> str:
    """Today's generate-check-repair path, called by name (not through write_poem, which
    takes the constrained path once it is wired)."""
    plan = plan_poem(args)
    context = ToolContext(models=OneModel(loaded))
    best = best_candidate(loaded, poem_prompt(args, plan), plan, args.seed or 0)
    return repair(loaded, best, plan, args.seed or 0, context)


def tool_is_constrained() -> bool:
    return "constrained" in inspect.getsource(poem_tool)


def constrained_path(loaded: LoadedCausalLM, args: PoemArgs) -> str:
    context = ToolContext(models=OneModel(loaded))
    if tool_is_constrained():
        return write_poem(args, context).text or ""
    plan = plan_poem(args)
    spec = PoemSpec(plan.lang, form_slots(plan))
    poems = write(loaded, poem_prompt(args, plan), spec, args.seed or 0, context)
    return max(poems, key=lambda poem: check(poem, plan.form).score)


RUNS: dict[str, Method] = {"a": single_sample, "b": repair_path, "c": constrained_path}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topics", type=int, default=len(TOPICS))
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--forms", default=",".join(FORMS))
    parser.add_argument("--model", default="bundled:smollm2")
    parser.add_argument("--models-dir", type=Path, default=Path("data/test-models"))
    options = parser.parse_args()
    methods = [m for m in options.methods.split(",") if m]
    forms = [f for f in options.forms.split(",") if f]
    loaded = load_causal_lm(
        options.model, cache_dir=options.models_dir, device="cpu", dtype="float32"
    )
    embedder = load_embedding(
        "bundled:minilm", cache_dir=options.models_dir, device="cpu", dtype="float32"
    )
    c_is = "write_poem" if tool_is_constrained() else "constrained/write.py, best by checker"
    print(
        f"model {loaded.spec}, {options.topics} topics per form, seeds 1..{options.topics}; "
        f"(c) = {c_is}; topic by {embedder.spec}"
    )
    print(f"{'form':<9} {'method':<6} {'pass':>10} {'topic':>6} {'s median':>9} {'s max':>7}")
    for form in forms:
        for method in methods:
            row(loaded, embedder, form, method, options.topics)


def row(
    loaded: LoadedCausalLM, embedder: LoadedEmbedding, form: str, method: str, topics: int
) -> None:
    passed, seconds, scores = 0, [], []
    for seed, topic in enumerate(TOPICS[:topics], start=1):
        args = PoemArgs(prompt=topic, form=form, seed=seed)
        start = time.perf_counter()
        poem = RUNS[method](loaded, args)
        seconds.append(time.perf_counter() - start)
        passed += check(poem, plan_poem(args).form).ok
        value = score_poem(embedder, topic, poem).value
        if value is not None:
            scores.append(value)
    topic_mean = f"{statistics.mean(scores):.2f}" if scores else "n/a"
    print(
        f"{form:<9} ({method})    {passed:>3}/{topics} {passed / topics:>4.0%} {topic_mean:>6} "
        f"{statistics.median(seconds):>9.1f} {max(seconds):>7.1f}",
        flush=True,
    )


if __name__ == "__main__":
    main()
