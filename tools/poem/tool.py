"""The poem tool: poems in English and Chinese, in forms that really scan, and revisions.

A new poem, in stages: settle the plan (form, language, length; the person's kept poems lend a
form and a tone where the request names none), write several candidates in one batch with
decoding kept inside the form (tools/poem/writing.py over tools/poem/constrained/: counts,
rhymes and, when strict, the 平仄 pattern hold by construction), and keep the one that meets
most of its form, then the closest to the request (tools/poem/rank.py). The person is told in
one line what the checker confirmed, never the form merely asked for.

In the person's voice (voice=True): their own poems, which the agent hands over as
ToolContext.voice, are shown to the model as examples (tools/poem/prompts.py). From a
picture (mode "picture"): the vision model describes the picture in focus
(tools/from_image.py) and the poem is written from that, made from the picture.

A revision (mode "revise", with a poem in focus): the named lines only, one more stanza, or the
whole poem in its form (tools/poem/revise.py), written the same constrained way; the note
says what changed.

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

from tools.catalog import POEM, POEM_FROM_A_PICTURE
from tools.contract import (
    ArtifactDraft,
    ArtifactKind,
    FocusArtifact,
    Tool,
    ToolArgs,
    ToolContext,
    ToolRefused,
    in_style,
)
from tools.from_image import PictureSubject, describe_picture, picture_in_focus
from tools.models.text import LoadedCausalLM
from tools.poem import prosody
from tools.poem.constrained.write import form_slots
from tools.poem.forms import FORM_CHOICES, check, form_name
from tools.poem.intents import read_poem_request
from tools.poem.plan import Plan, form_or_free_verse, line_count
from tools.poem.prompts import poem_prompt, voice_examples
from tools.poem.rank import Ranked, best_poem, embedder_of
from tools.poem.revise import Change, revise, subject_of
from tools.poem.strict_tones import has_tone_pattern
from tools.poem.writing import CANDIDATES, candidates

MODEL_ROLE = "poem"
ASK_FOR_SUBJECT = (
    "What should the poem be about? Say it after the options, for example "
    "`/poem a heron in the rain`."
)
MAX_LINE_NUMBER = 100
NO_VOICE = (
    "You have no poems of your own yet to take your voice from: write or upload a poem, "
    "then ask again."
)
NOT_STRICT = "strict 平仄 applies to 绝句 and 律诗 only"


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
    strict: bool = Field(
        False, description="绝句 and 律诗: keep the 平仄 tone pattern exactly (严格平仄)"
    )
    voice: bool = Field(False, description="in your own voice: your poems as examples")
    # After the fields above, so that its validator sees change_lines and add_stanza.
    mode: Literal["new", "revise", "vary", "picture"] | None = Field(
        None,
        description="new, revise the poem in focus, vary it (another take on its subject "
        "and form), or picture (a poem about the picture in focus); default: new, or "
        "revise when change_lines or add_stanza is given",
        validate_default=True,
    )

    @model_validator(mode="after")
    def _something_to_write_about(self) -> PoemArgs:
        # A variation takes its subject from the poem in focus, a picture's poem from the
        # picture; anything else needs words.
        if not self.prompt.strip() and self.mode not in ("vary", "picture"):
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
        return _revision(loaded, args, seed, context, focus)
    if context.style:  # a session's shared style joins the poem's own style notes
        args = args.model_copy(update={"style": in_style(args.style or "", context.style)})
    if args.mode == "vary":
        return _variation(loaded, args, seed, context)
    if args.mode == "picture":
        return _from_picture(loaded, args, seed, context)
    return _new_poem(loaded, args, seed, context)


def _revision(
    loaded: LoadedCausalLM, args: PoemArgs, seed: int, context: ToolContext, focus: FocusArtifact
) -> ArtifactDraft:
    """The poem in focus changed as asked; a strict poem stays strict."""
    strict = args.strict or bool(focus.params.get("strict"))
    change = Change(args.prompt, args.change_lines or (), args.add_stanza, strict)
    revised = revise(loaded, change, focus, seed, context)
    ranked = Ranked(revised.poem, revised.topic)
    return _draft(
        args.model_copy(update={"strict": strict}),
        revised.plan,
        ranked,
        seed,
        loaded,
        from_focus=True,
        changed=revised.changed,
        extra={"subject": subject_of(focus)},
    )


def _variation(
    loaded: LoadedCausalLM, args: PoemArgs, seed: int, context: ToolContext
) -> ArtifactDraft:
    """Another take on the poem in focus: its subject, form and tone, a new seed, as a new
    version of it."""
    focus = context.focus
    if focus is None or focus.kind is not ArtifactKind.POEM:
        raise ToolRefused("There is no poem in focus to vary; name it as #N.")
    same = {key: focus.params.get(key) for key in ("form", "tone", "style", "lang")}
    subject = args.prompt or subject_of(focus)
    asked = args.model_copy(
        update={
            "prompt": subject,
            "mode": "new",
            "strict": args.strict or bool(focus.params.get("strict")),
            **same,
        }
    )
    draft = _new_poem(loaded, asked, seed, replace(context, kept=()))
    return replace(draft, from_focus=True)


def _from_picture(
    loaded: LoadedCausalLM, args: PoemArgs, seed: int, context: ToolContext
) -> ArtifactDraft:
    """A poem about the picture in focus: the vision model's description is its subject; it
    is made from the picture (its own tree, the picture its parent)."""
    picture_in_focus(context.focus)  # no picture: one line, before any model runs
    _voice(args, context)  # nor a voice of none of their poems
    subject = describe_picture(context, seed, plan_poem(args).lang)
    context.check()
    draft = _new_poem(loaded, args.model_copy(update={"mode": "new"}), seed, context, subject)
    params = {
        **draft.params,
        "picture": subject.number,
        "picture_description": subject.description,
    }
    return replace(draft, params=params, from_focus=True)


def _new_poem(
    loaded: LoadedCausalLM,
    args: PoemArgs,
    seed: int,
    context: ToolContext,
    picture: PictureSubject | None = None,
) -> ArtifactDraft:
    tasted = with_taste(args, context.kept)
    plan = plan_poem(tasted)
    if tasted != args:
        plan = replace(plan, notes=(*plan.notes, f"as in your kept poems: {_taste_words(tasted)}"))
    voice = _voice(args, context)
    description = picture.description if picture is not None else None
    messages = poem_prompt(tasted, plan, voice=voice, picture=description)
    context.progress(0.05, "writing candidates")
    poems = candidates(
        loaded,
        messages,
        plan,
        form_slots(plan, line_count(plan)),
        seed,
        context,
        strict=tasted.strict,
        count=CANDIDATES,
    )
    context.check()
    request = description if description is not None else tasted.prompt
    ranked = best_poem(poems, plan.form, request, embedder_of(context.models), strict=tasted.strict)
    extra = {"subject": request, **({"voice": len(voice)} if args.voice else {})}
    return _draft(tasted, plan, ranked, seed, loaded, from_focus=False, changed=None, extra=extra)


def _voice(args: PoemArgs, context: ToolContext) -> list[str]:
    """The person's poems to show as their voice, when asked for; none: one line."""
    if not args.voice:
        return []
    examples = voice_examples(context.voice)
    if not examples:
        raise ToolRefused(NO_VOICE)
    return examples


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
    if args.strict and not has_tone_pattern(form):
        note = (*note, NOT_STRICT)
    return Plan(form, lang, None, note)


def _draft(
    args: PoemArgs,
    plan: Plan,
    ranked: Ranked,
    seed: int,
    loaded: LoadedCausalLM,
    *,
    from_focus: bool,
    changed: str | None,
    extra: Mapping[str, Any] | None = None,
) -> ArtifactDraft:
    strict = args.strict and has_tone_pattern(plan.form)
    result = check(ranked.poem, plan.form, strict_tones=strict)
    note = " · ".join([*([changed] if changed else []), result.summary(), *plan.notes])
    params = {
        "model": loaded.spec,
        "seed": seed,
        "form": plan.form.name,
        "lang": plan.lang,
        "tone": args.tone,
        "style": args.style,
        "strict": strict,
        "form_met": result.ok,
        "check": result.summary(),
        **(result.tones.as_params() if result.tones is not None else {}),
        **(ranked.topic.as_params() if ranked.topic is not None else {}),
        **(extra or {}),
    }
    return ArtifactDraft(
        ArtifactKind.POEM,
        text=ranked.poem or "…",
        params=params,
        from_focus=from_focus,
        note=note,
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
    from_picture={"mode": "picture"},
    also_serves=(POEM_FROM_A_PICTURE,),
    reads=read_poem_request,
)
