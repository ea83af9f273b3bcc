"""/export me: one person's own messages and pieces as a zip (export.json, whose schema is
export.schema.json here, and the media), within the upload limit. `PersonalExports` answers
the command; `export_person` builds the zip."""

from agent.personal_export.build import (
    DOCUMENT,
    SCHEMA,
    Export,
    ExportTooLarge,
    NothingToExport,
    export_person,
)
from agent.personal_export.command import EXPORT_COMMAND, PersonalExports

__all__ = [
    "DOCUMENT",
    "EXPORT_COMMAND",
    "SCHEMA",
    "Export",
    "ExportTooLarge",
    "NothingToExport",
    "PersonalExports",
    "export_person",
]
