"""The creative tools: one folder per medium, the contract (contract.py), the lineup."""

# First, before any tool module imports transformers or diffusers: tools.models installs the
# filters for library notices a person cannot act on (tools/models/quiet.py).
import tools.models  # noqa: F401
