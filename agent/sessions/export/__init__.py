"""A group session's export (/session export, and the session's end): one zip with
session.json (its schema is session.schema.json here), an offline index.html and the media,
within an upload limit. `export_session` is the one entry point."""

from agent.sessions.export.build import Export, ExportTooLarge, export_session
from agent.sessions.export.snapshot import SessionNotFound

SCHEMA = "session.schema.json"  # package data beside this file: importlib.resources

__all__ = ["SCHEMA", "Export", "ExportTooLarge", "SessionNotFound", "export_session"]
