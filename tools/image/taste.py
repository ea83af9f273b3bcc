"""A person's taste in pictures: what the pictures they kept (/keep) have in common shapes a
new picture's defaults (in a session, only for a member who let their taste count).

Read from the kept pieces' params (tools/image/draft.py writes them), newest first; each
default is a value more than half of them share, and applies only where the request leaves
it open:
  style words  the last comma-separated part of their prompts ("a fox, watercolor" ->
               "watercolor"), added to a prompt that has no style of its own
  aspect       their aspect ratio, where the request names none
  guidance     how closely they followed their prompts, where the request does not say
Only new pictures take it (tools/image/tool.py `with_taste`): a new picture from words, a
picture of a poem and a cover for a clip; a variation, refinement or upscale follows the
image in focus and a picture in the style of a reference follows the reference. A picture
made from a poem or a clip takes the style words only when the person named no style of
their own, and none where a session's shared style decides. The note and the params'
"taste" say what was applied.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tools.contract import in_style
from tools.image.sizes import ASPECTS

# A trailing part longer than this is more of the subject than a style.
STYLE_WORDS_MAX = 4


@dataclass(frozen=True)
class ImageTaste:
    """The defaults a person's kept pictures lend; None where they say nothing."""

    style: str | None = None
    aspect: str | None = None
    guidance: float | None = None

    def words(self) -> str:
        """What was learned, for a note: "watercolor, 3:2, guidance 6"."""
        parts = [self.style, self.aspect]
        if self.guidance is not None:
            parts.append(f"guidance {self.guidance:g}")
        return ", ".join(part for part in parts if part)

    def as_params(self) -> dict[str, Any]:
        """What was applied, as a piece's params record it: only the parts that say something."""
        found = {"style": self.style, "aspect": self.aspect, "guidance": self.guidance}
        return {key: value for key, value in found.items() if value is not None}

    def __bool__(self) -> bool:
        return bool(self.as_params())


def image_taste(kept: Sequence[Mapping[str, Any]]) -> ImageTaste:
    """The defaults the kept pictures' params agree on."""
    guidances = [float(p["guidance"]) for p in kept if isinstance(p.get("guidance"), int | float)]
    styles = [style_words(str(p.get("prompt") or "")) for p in kept]
    aspects = [str(p["aspect"]) for p in kept if p.get("aspect") in ASPECTS]
    return ImageTaste(
        style=_shared_by_most(styles, len(kept)),
        aspect=_shared_by_most(aspects, len(kept)),
        guidance=round(statistics.median(guidances), 1) if guidances else None,
    )


def style_words(prompt: str) -> str | None:
    """The style a prompt ends with: its last comma-separated part, when short and not the
    whole prompt ("a lighthouse at dusk, oil painting" -> "oil painting")."""
    head, _, tail = prompt.rpartition(",")
    tail = tail.strip(" .;")
    if not head.strip() or not tail or len(tail.split()) > STYLE_WORDS_MAX:
        return None
    return tail.lower()


def tasted_fields(
    prompt: str, fields_set: Iterable[str], taste: ImageTaste, style_said: bool | None = None
) -> dict[str, Any]:
    """The Args fields the taste sets: only those the request left open. `style_said` says
    whether the person named a style, where the prompt was made for them (a poem's lines, a
    clip's description) and its last part says nothing of it; by default the prompt's own
    style words decide."""
    asked = set(fields_set)
    said = style_words(prompt) is not None if style_said is None else style_said
    update: dict[str, Any] = {}
    styled = in_style(prompt, taste.style) if taste.style and not said else prompt
    if styled != prompt:  # "a fox in watercolor" already has it: nothing applied
        update["prompt"] = styled
    if taste.aspect and "aspect" not in asked:
        update["aspect"] = taste.aspect
    if taste.guidance is not None and "guidance" not in asked:
        update["guidance"] = taste.guidance
    return update


def applied_taste(update: Mapping[str, Any], taste: ImageTaste) -> ImageTaste:
    """The part of the taste that `update` (tasted_fields' answer) applied."""
    return ImageTaste(
        style=taste.style if "prompt" in update else None,
        aspect=update.get("aspect"),
        guidance=update.get("guidance"),
    )


def _shared_by_most(values: Iterable[str | None], total: int) -> str | None:
    """The value more than half of the `total` pieces have, if one does."""
    counted = Counter(value for value in values if value)
    found = counted.most_common(1)
    return found[0][0] if found and 2 * found[0][1] > total else None
