"""index.html: the session as a page that reads offline, from the unzipped export alone.

It is rendered from session.json's document with the template beside this file
(page.html.j2), with autoescaping on: every theme, name, prompt and line a person typed is
text on the page, never markup. No script, font or style sheet is fetched (the CSS is inline,
and the page's Content-Security-Policy refuses anything else); media are linked by their
relative path in the zip, and a file left out says so in its place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from importlib.resources import files
from typing import Any

from jinja2 import Environment, StrictUndefined, Template

from agent.sessions.export.document import Document

TEMPLATE = "page.html.j2"
_REASONS = {
    "too large": "too large for the upload limit",
    "missing": "missing from the media store",
}


@dataclass(frozen=True)
class Shown:
    """One media file of a piece, as the page shows it."""

    label: str  # "" for the piece's own media, else the kept file's name
    file: str | None  # the relative path in the zip; None when it is not included
    tag: str  # img, audio, video or a (a plain link)
    left_out: str  # when not included: its name in the zip and why it is not there


@dataclass(frozen=True)
class Node:
    """A version of a piece in its version tree, with the versions made from it."""

    piece: dict[str, Any]
    media: tuple[Shown, ...]
    children: list[Node] = field(default_factory=list)


def render_page(document: Document) -> str:
    contributors = {piece["number"]: piece["contributor"] for piece in document["pieces"]}
    return _template().render(
        doc=document, trees=version_trees(document), contributors=contributors
    )


def version_trees(document: Document) -> list[Node]:
    """The pieces nested by parent, first versions at the top, oldest first. A version whose
    parent is not in the session (removed by /forget) starts a tree of its own."""
    gone = {(entry["piece"], entry["name"]): entry for entry in document["left_out"]}
    nodes = {piece["number"]: Node(piece, _media(piece, gone)) for piece in document["pieces"]}
    top: list[Node] = []
    for node in nodes.values():
        parent = nodes.get(node.piece["parent"])
        (top if parent is None else parent.children).append(node)
    return top


LeftOutEntries = dict[tuple[int, str | None], dict[str, Any]]


def _media(piece: dict[str, Any], gone: LeftOutEntries) -> tuple[Shown, ...]:
    number = piece["number"]
    shown = []
    if piece["mime_type"] is not None:
        shown.append(_shown("", piece["file"], piece["mime_type"], gone.get((number, None))))
    for kept in piece["files"]:
        entry = gone.get((number, kept["name"]))
        shown.append(_shown(kept["name"], kept["file"], kept["mime_type"], entry))
    return tuple(shown)


def _shown(label: str, file: str | None, mime_type: str, gone: dict[str, Any] | None) -> Shown:
    if file is not None or gone is None:
        return Shown(label, file, _tag(mime_type), "")
    why = _REASONS.get(gone["reason"], gone["reason"])
    return Shown(label, None, _tag(mime_type), f"{gone['file']}: {why}")


def _tag(mime_type: str) -> str:
    kind = mime_type.split("/", 1)[0]
    return kind if kind in {"audio", "video"} else "img" if kind == "image" else "a"


def _when(iso: str | None) -> str:
    """A document's time as people read it ("2026-05-01 18:30 UTC"); the exact one stays
    in session.json."""
    return "" if iso is None else datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M UTC")


@cache
def _template() -> Template:
    environment = Environment(autoescape=True, undefined=StrictUndefined, trim_blocks=True)
    environment.filters["when"] = _when
    source = files(__package__).joinpath(TEMPLATE).read_text(encoding="utf-8")
    return environment.from_string(source)
