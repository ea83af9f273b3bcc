"""The one spec resolver: where from_pretrained reads a spec, for every loader (chat, image,
music, vision, clip).

A loader describes the specs it accepts (`SpecForms`: its built-in models, whether a .gguf
path is one, the file a model directory must hold) and `resolve_source` turns a spec into a
`Source`, or refuses it with ModelUnavailable saying why and what is accepted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from huggingface_hub import is_offline_mode

from tools.models.specs import ModelRole

# org/name as the hub spells repo ids; anything else that is not a path is refused early.
HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
# Specs with these prefixes name built-in models; an unknown one is refused, not looked up.
BUILTIN_PREFIXES = ("bundled:", "tiny:")

# Builds (once) or finds a built-in model under the cache dir and returns its directory.
Builder = Callable[[Path, ModelRole], Path]


@dataclass(frozen=True)
class Source:
    """Where from_pretrained reads a spec: a directory or hub id, and a GGUF file inside it."""

    path: str
    gguf_file: str | None = None
    is_hub_id: bool = False

    def describe_failure(self, exc: Exception) -> str:
        """from_pretrained's error as one line for the person: a hub id that cannot be had
        offline says so instead of a stack of cache paths."""
        if self.is_hub_id and isinstance(exc, OSError):
            if is_offline_mode():
                return "offline and not in the local cache"
            return f"not in the local cache and could not be downloaded: {exc}"
        return str(exc)


@dataclass(frozen=True)
class SpecForms:
    """The specs one loader accepts, and how its refusals word them."""

    listing: str  # the accepted forms, as refusals list them
    builtins: Mapping[str, Builder] = field(default_factory=lambda: MappingProxyType({}))
    builtin_noun: str = "model"  # "no such built-in <noun>"
    spec_noun: str = "model"  # "not a <noun> spec"
    marker: str = "config.json"  # the file a model directory must hold
    hint: str = ""  # follows "has no <marker>": what such a directory is not
    gguf_files: bool = False  # whether a path to a .gguf file is a spec


def resolve_source(spec: str, role: ModelRole, cache_dir: Path, forms: SpecForms) -> Source:
    """A built-in model (built under cache_dir on first use), a .gguf file where the loader
    reads them, a model directory or a hub id; ModelUnavailable for anything else."""
    builder = forms.builtins.get(spec)
    if builder is not None:
        return Source(str(builder(cache_dir, role)))
    accepted = f"accepted forms are {forms.listing}"
    if spec.startswith(BUILTIN_PREFIXES):
        raise role.unavailable(spec, f"no such built-in {forms.builtin_noun}; {accepted}")
    path = Path(spec).expanduser()
    if forms.gguf_files and path.suffix == ".gguf":
        if not path.is_file():
            raise role.unavailable(spec, f"no such GGUF file: {path}")
        return Source(str(path.parent), gguf_file=path.name)
    article = "an" if forms.spec_noun[:1] in "aeiou" else "a"
    return local_or_hub(
        spec,
        role,
        not_a_spec=f"not {article} {forms.spec_noun} spec; {accepted}",
        marker=forms.marker,
        hint=forms.hint,
    )


def local_or_hub(
    spec: str, role: ModelRole, *, not_a_spec: str, marker: str = "config.json", hint: str = ""
) -> Source:
    """A model directory (holding `marker`) or a hub id; ModelUnavailable saying `not_a_spec`
    for anything else. The last step of resolve_source, for loaders that check their
    built-in specs themselves."""
    path = Path(spec).expanduser()
    if path.is_dir():
        if not (path / marker).is_file():
            raise role.unavailable(spec, f"the directory {path} has no {marker}{hint}")
        return Source(str(path))
    if HUB_ID.match(spec):
        return Source(spec, is_hub_id=True)
    raise role.unavailable(spec, not_a_spec)
