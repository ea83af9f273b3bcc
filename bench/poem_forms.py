"""How often a poem meets its form: one sample, versus atelier's generate-check-repair path.

Run:
    .venv/bin/python bench/poem_forms.py                 # 10 topics x 4 forms, bundled SmolLM2
    .venv/bin/python bench/poem_forms.py --topics 3      # quicker

For each topic and form, with fixed seeds on the CPU: (a) one sampled poem, trimmed to the
form's line count, checked; (b) the poem tool's full path (several candidates, the best
checked, failing lines regenerated with the rule stated). Prints the share of poems that pass
the checker and the mean seconds per poem, per form.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from tools.contract import ToolContext  # noqa: E402
from tools.models.text import LoadedCausalLM, load_causal_lm  # noqa: E402
from tools.poem.choose import fit_lines, sample_clean  # noqa: E402
from tools.poem.forms import check  # noqa: E402
from tools.poem.prompts import poem_prompt  # noqa: E402
from tools.poem.tool import PoemArgs, plan_poem, write_poem  # noqa: E402

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
FORMS = ("haiku", "limerick", "sonnet", "wujue")


class OneModel:
    def __init__(self, loaded: LoadedCausalLM) -> None:
        self.loaded = loaded

    def get(self, role: str) -> LoadedCausalLM:
        return self.loaded


def single_sample(loaded: LoadedCausalLM, args: PoemArgs) -> bool:
    plan = plan_poem(args)
    [reply] = sample_clean(loaded, poem_prompt(args, plan), count=1, seed=args.seed or 0)
    return check(fit_lines(reply, plan), plan.form).ok


def full_path(loaded: LoadedCausalLM, args: PoemArgs) -> bool:
    draft = write_poem(args, ToolContext(models=OneModel(loaded)))
    return bool(draft.params["form_met"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topics", type=int, default=len(TOPICS))
    parser.add_argument("--model", default="bundled:smollm2")
    parser.add_argument("--models-dir", type=Path, default=Path("data/test-models"))
    options = parser.parse_args()
    loaded = load_causal_lm(
        options.model, cache_dir=options.models_dir, device="cpu", dtype="float32"
    )
    print(f"model {loaded.spec}, {options.topics} topics per form, seeds 1..{options.topics}")
    columns = ("(a) one sample", "(b) full path", "s/poem (a)", "s/poem (b)")
    print(f"{'form':<9} {columns[0]:>15} {columns[1]:>14} {columns[2]:>11} {columns[3]:>11}")
    for form in FORMS:
        passed = {"a": 0, "b": 0}
        seconds: dict[str, list[float]] = {"a": [], "b": []}
        for seed, topic in enumerate(TOPICS[: options.topics], start=1):
            args = PoemArgs(prompt=topic, form=form, seed=seed)
            for key, run in (("a", single_sample), ("b", full_path)):
                start = time.perf_counter()
                passed[key] += run(loaded, args)
                seconds[key].append(time.perf_counter() - start)
        n = options.topics
        print(
            f"{form:<9} {passed['a']:>6}/{n} {passed['a'] / n:>5.0%} {passed['b']:>6}/{n} "
            f"{passed['b'] / n:>5.0%} {statistics.mean(seconds['a']):>10.1f} "
            f"{statistics.mean(seconds['b']):>11.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
