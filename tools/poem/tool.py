"""The poem tool: poems in English and Chinese, in forms that really scan, and revisions.

A new poem, in stages: settle the plan (form, language, length; the person's kept poems lend a
form and a tone where the request names none), sample several candidates and take the one
that meets most of its form (tools/poem/choose.py), then regenerate only its failing lines
with the rule stated, keeping a new line only when it makes the poem meet more of the form.
The person is told in one line what the checker confirmed, never the form merely asked for.

A revision (mode "revise", with a poem in focus): the named lines only, one more stanza, or the
whole poem in its form (tools/poem/revise.py); the note says what changed.

What to do arrives as fields: buttons and options set them, and the request's words are read
into them once, by tools/poem/intents.py (POEM_TOOL.reads). The run reads no decision from
the prompt; the prompt is what the poem is about, or the change as said.
"""

from __future__ import annotations

import re
import secrets
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from tools.catalog import POEM
from tools.contract import (
    ArtifactDraft,
    ArtifactKind,
    Tool,
    ToolArgs,
    ToolContext,
    ToolRefused,
    in_style,
)
from tools.models.text import LoadedCausalLM
from tools.poem import prosody
from tools.poem.choose import best_candidate, repair
from tools.poem.forms import FORM_CHOICES, check, form_name
from tools.poem.intents import read_poem_request
from tools.poem.plan import Plan, form_or_free_verse
from tools.poem.prompts import poem_prompt
from tools.poem.revise import Change, revise

MODEL_ROLE = "poem"
ASK_FOR_SUBJECT = (
    "What should the poem be about? Say it after the options, for example "
    "`/poem a heron in the rain`."
)
MAX_LINE_NUMBER = 100


class PoemArgs(ToolArgs):
    prompt: str = Field(
        "",
        description="what the poem is about, or how to change the poem in focus",
        max_length=1000,
    )
    form: str | None = Field(
        None,
        description="haiku, tanka, limerick, quatrain, sonnet, free verse, 五言绝句, 七言绝句, "
        "五言律诗 or 七言律诗 (default: the one the request names, else free verse)",
        json_schema_extra={"choices": FORM_CHOICES},
    )
    lang: Literal["en", "zh"] | None = Field(None, description="en or zh (default: the request's)")
    tone: str | None = Field(
        None, max_length=100, description="the emotion, e.g. bitter but tender"
    )
    style: str | None = Field(
        None,
        max_length=300,
        description="style notes: imagery to use or avoid, in the manner of ...",
    )
    lines: int | None = Field(None, ge=1, description="lines, where the form leaves it open")
    seed: int | None = Field(None, ge=0, le=2**31 - 1, description="the random seed")
    change_lines: tuple[Annotated[int, Field(ge=1, le=MAX_LINE_NUMBER)], ...] | None = Field(
        None, description="in a revision, rewrite only these lines, e.g. 2 or 1,3"
    )
    add_stanza: bool = Field(False, description="in a revision, add a stanza to the poem")
    # After the two fields above, so that its validator sees them.
    mode: Literal["new", "revise", "vary"] | None = Field(
        None,
        description="new, revise the poem in focus, or vary it (another take on its subject "
        "and form); default: new, or revise when change_lines or add_stanza is given",
        validate_default=True,
    )

    @model_validator(mode="after")
    def _something_to_write_about(self) -> PoemArgs:
        # A variation takes its subject from the poem in focus; anything else needs words.
        if not self.prompt.strip() and self.mode != "vary":
            raise ValueError(ASK_FOR_SUBJECT)
        return self

    @field_validator("form")
    @classmethod
    def _known_form(cls, value: str | None) -> str | None:
        return None if value is None else form_name(value)

    @field_validator("change_lines", mode="before")
    @classmethod
    def _line_numbers(cls, value: Any) -> Any:
        """An option typed as text: "2" or "1,3" (or "1 3")."""
        if isinstance(value, int):
            return (value,)
        if not isinstance(value, str):
            return value
        if not re.fullmatch(r"\s*\d+(?:\s*[,\s]\s*\d+)*\s*", value):
            raise ValueError(f"change_lines={value!r}: give line numbers, e.g. 2 or 1,3")
        return tuple(int(n) for n in re.findall(r"\d+", value))

    @field_validator("mode")
    @classmethod
    def _edits_revise(cls, value: str | None, info: ValidationInfo) -> str | None:
        """Lines to change or a stanza to add can only be a revision."""
        if value is None and (info.data.get("change_lines") or info.data.get("add_stanza")):
            return "revise"
        return value


def write_poem(args: PoemArgs, context: ToolContext) -> ArtifactDraft:
    """A new poem; with mode "revise" and a poem in focus, a revision of that poem (without a
    poem in focus the words are taken as the subject of a new one)."""
    loaded = context.models.get(MODEL_ROLE)
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    focus = context.focus
    if args.mode == "revise" and focus is not None and focus.kind is ArtifactKind.POEM:
        change = Change(args.prompt, args.change_lines or (), args.add_stanza)
        revised = revise(loaded, change, focus, seed, context)
        return _draft(
            args, revised.plan, revised.poem, seed, loaded, from_focus=True, changed=revised.changed
        )
    if context.style:  # a session's shared style joins the poem's own style notes
        args = args.model_copy(update={"style": in_style(args.style or "", context.style)})
    if args.mode == "vary":
        return _variation(loaded, args, seed, context)
    return _new_poem(loaded, args, seed, context)


def _variation(
    loaded: LoadedCausalLM, args: PoemArgs, seed: int, context: ToolContext
) -> ArtifactDraft:
    """Another take on the poem in focus: its subject, form and tone, a new seed, as a new
    version of it."""
    focus = context.focus
    if focus is None or focus.kind is not ArtifactKind.POEM:
        raise ToolRefused("There is no poem in focus to vary; name it as #N.")
    same = {key: focus.params.get(key) for key in ("form", "tone", "style", "lang")}
    asked = args.model_copy(update={"prompt": args.prompt or focus.prompt, "mode": "new", **same})
    draft = _new_poem(loaded, asked, seed, replace(context, kept=()))
    return replace(draft, from_focus=True)


def _new_poem(
    loaded: LoadedCausalLM, args: PoemArgs, seed: int, context: ToolContext
) -> ArtifactDraft:
    tasted = with_taste(args, context.kept)
    plan = plan_poem(tasted)
    if tasted != args:
        plan = replace(plan, notes=(*plan.notes, f"as in your kept poems: {_taste_words(tasted)}"))
    context.progress(0.05, "writing candidates")
    best = best_candidate(loaded, poem_prompt(tasted, plan), plan, seed)
    context.check()
    best = repair(loaded, best, plan, seed, context)
    return _draft(tasted, plan, best, seed, loaded, from_focus=False, changed=None)


def with_taste(args: PoemArgs, kept: Sequence[Mapping[str, Any]]) -> PoemArgs:
    """The person's kept poems offer a form and a tone where the request names none."""
    if not kept:
        return args
    form = args.form or str(kept[0].get("form") or "") or None
    tones = Counter(str(p["tone"]) for p in kept if p.get("tone"))
    tone = args.tone or (tones.most_common(1)[0][0] if tones else None)
    return args.model_copy(update={"form": form, "tone": tone})


def _taste_words(args: PoemArgs) -> str:
    return ", ".join(part for part in (args.form, args.tone) if part)


def plan_poem(args: PoemArgs) -> Plan:
    """The form asked for (else free verse), the language (asked for, the form's, else the
    prompt's own) and the length where the form leaves it open, clamped with a note."""
    form = form_or_free_verse(args.form)
    lang = args.lang or form.language or ("zh" if prosody.is_chinese(args.prompt) else "en")
    if form.name == "free verse" and args.lines is not None:
        low, high = form.lines
        lines = min(max(args.lines, low), high)
        note = (
            () if lines == args.lines else (f"{args.lines} lines is out of range; wrote {lines}",)
        )
        return Plan(form, lang, lines, note)
    note = () if args.lines is None else (f"a {form.label} has its own length; lines= was ignored",)
    return Plan(form, lang, None, note)


def _draft(
    args: PoemArgs,
    plan: Plan,
    poem: str,
    seed: int,
    loaded: LoadedCausalLM,
    *,
    from_focus: bool,
    changed: str | None,
) -> ArtifactDraft:
    result = check(poem, plan.form)
    note = " · ".join([*([changed] if changed else []), result.summary(), *plan.notes])
    params = {
        "model": loaded.spec,
        "seed": seed,
        "form": plan.form.name,
        "lang": plan.lang,
        "tone": args.tone,
        "style": args.style,
        "form_met": result.ok,
        "check": result.summary(),
    }
    return ArtifactDraft(
        ArtifactKind.POEM, text=poem or "…", params=params, from_focus=from_focus, note=note
    )


def revision_args(instruction: str) -> PoemArgs:
    """Revise the poem in focus by an instruction (a critique's suggestion, say): the lines or
    the stanza its words name, else the whole poem."""
    return PoemArgs(prompt=instruction, **{**read_poem_request(instruction), "mode": "revise"})


POEM_TOOL = Tool(
    POEM.name,
    POEM.description,
    ArtifactKind.POEM,
    PoemArgs,
    write_poem,
    examples=POEM.examples,
    revision=revision_args,
    variation={"mode": "vary"},
    reads=read_poem_request,
)
