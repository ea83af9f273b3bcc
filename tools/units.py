"""Byte units, defined once for every layer (the model memory budget, upload and file limits)."""

from __future__ import annotations

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB
