"""Progress for long work: a bar on a terminal, JSON lines for Slicer.

With ``--progress jsonl`` each event is one JSON object on one line of stdout:
``{"event": "progress", "step": "extract", "done": 3, "total": 10, "message": "case-003"}``,
``{"event": "error", ...}``, ``{"event": "result", "path": ...}``, ``{"event": "log", ...}``.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO

MODES = ("auto", "bar", "jsonl", "none")


class Progress:
    def __init__(self, mode: str = "auto", step: str = "", stream: TextIO | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"progress mode must be one of {MODES}")
        if mode == "auto":
            mode = "bar" if sys.stderr.isatty() else "none"
        self.mode = mode
        self.step = step
        self.stream = stream or sys.stdout
        self.total = 0
        self.done = 0
        self.failed = 0
        self.started = time.monotonic()
        self._bar = None

    def _emit(self, event: str, **fields: Any) -> None:
        if self.mode == "jsonl":
            record = {"event": event, "step": self.step, **fields}
            self.stream.write(json.dumps(record, default=str) + "\n")
            self.stream.flush()

    def start(self, total: int, message: str = "") -> None:
        self.total, self.done, self.started = total, 0, time.monotonic()
        if self.mode == "bar":
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=self.step, unit="case", file=sys.stderr, dynamic_ncols=True)
        self._emit("progress", done=0, total=total, message=message)

    def advance(self, message: str = "", *, failed: bool = False, skipped: bool = False) -> None:
        self.done += 1
        self.failed += int(failed)
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix_str(f"{message}{' FAILED' if failed else ''}", refresh=False)
        self._emit("progress", done=self.done, total=self.total, message=message, failed=failed, skipped=skipped)

    def error(self, message: str, **fields: Any) -> None:
        where = ", ".join(f"{k.replace('_id', '')} '{fields[k]}'" for k in ("case_id", "file") if fields.get(k))
        text = f"error: {where + ': ' if where else ''}{message}"
        if fields.get("hint"):
            text += f" -> {fields['hint']}"
        if self._bar is not None:
            self._bar.write(text, file=sys.stderr)
        elif self.mode != "jsonl":
            print(text, file=sys.stderr)
        self._emit("error", message=message, **fields)

    def log(self, message: str, level: str = "info") -> None:
        if self._bar is not None:
            self._bar.write(message, file=sys.stderr)
        elif self.mode == "none" and level in ("warning", "error"):
            print(message, file=sys.stderr)
        self._emit("log", level=level, message=message)

    def result(self, path: str, **fields: Any) -> None:
        self._emit("result", path=str(path), **fields)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
