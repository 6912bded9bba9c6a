"""Errors a user can act on.

Every error raised for bad input names the case, the file and what to do, so
that one line in a failures table or a Slicer message box is enough to fix it.
"""

from __future__ import annotations

from pathlib import Path


class WorkshopError(Exception):
    """Base class: an error with the case, the file and a hint on what to do."""

    def __init__(
        self,
        message: str,
        *,
        case_id: str | None = None,
        file: str | Path | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.case_id = case_id
        self.file = str(file) if file is not None else None
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        where = []
        if self.case_id is not None:
            where.append(f"case '{self.case_id}'")
        if self.file is not None:
            where.append(f"file '{self.file}'")
        text = (", ".join(where) + ": " if where else "") + self.message
        if self.hint:
            text += f" -> {self.hint}"
        return text

    def with_context(self, *, case_id: str | None = None, file: str | Path | None = None) -> "WorkshopError":
        """Fill in the case and file where the raiser did not know them."""
        if self.case_id is None and case_id is not None:
            self.case_id = case_id
        if self.file is None and file is not None:
            self.file = str(file)
        self.args = (str(self),)
        return self

    def to_record(self) -> dict:
        return {"case_id": self.case_id, "file": self.file, "error": type(self).__name__,
                "message": self.message, "hint": self.hint}


class InputError(WorkshopError):
    """A file is missing, unreadable or inconsistent with its partner."""


class SettingsError(WorkshopError):
    """A preset, parameter file or command-line option is invalid."""


class OutputExistsError(WorkshopError):
    """An output exists and --overwrite was not given."""
