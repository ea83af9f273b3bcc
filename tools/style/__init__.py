"""The style tool: a LoRA trained on a person's own pictures, kept as a STYLE piece."""
