"""A file path for import (must exist) or export (its folder must exist)."""

from __future__ import annotations

from pathlib import Path

from app.screens.dialogs.text_input import InputDialog


def import_problem(text: str) -> str | None:
    """Why ``text`` is not a readable workflow file, if it is not."""
    path = Path(text).expanduser()
    if not path.exists():
        return f"{path}: no such file"
    if path.is_dir():
        return f"{path}: is a folder; give a .yaml, .yml or .json file"
    return None


def export_problem(text: str) -> str | None:
    """Why a workflow cannot be written to ``text``, if it cannot."""
    path = Path(text).expanduser()
    if path.is_dir():
        return f"{path}: is a folder; give a file name ending in .yaml or .json"
    if not path.parent.is_dir():
        return f"{path.parent}: no such folder"
    if path.suffix.lower() not in (".yaml", ".yml", ".json"):
        return "the file name must end in .yaml, .yml or .json"
    return None


class PathDialog(InputDialog):
    """Asks for a path; ``for_import`` requires an existing file."""

    def __init__(self, title: str, *, value: str = "", for_import: bool) -> None:
        super().__init__(
            title,
            value=value,
            placeholder="path/to/workflow.yaml",
            hint="YAML (.yaml/.yml) or JSON (.json); ~ is your home folder.",
            check=import_problem if for_import else export_problem,
        )
