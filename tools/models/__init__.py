"""The models every tool shares: specs and roles (specs.py), where they run (devices.py), where
they are read from (sources.py), the text loader (text.py) and the registry (registry.py)."""

from tools.models.quiet import hide_torchvision_fallback_notices

# Here, before any model module imports transformers or diffusers: the notices are logged the
# first time anything names an image processor class, often at import (see quiet.py).
hide_torchvision_fallback_notices()
