"""Which engine computes a preset's features: ours (``extractor.Extractor``) or PyRadiomics.

``auto`` (the default) takes ours wherever it computes everything the preset asks for (its classes,
features, settings and image types, in the main extraction and every aggregation: ``classes.unsupported``)
and PyRadiomics for the rest; ``ours`` and ``pyradiomics`` insist, with a clear error where they cannot.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from ...io.errors import SettingsError
from .classes import unsupported

ENGINES = ("auto", "ours", "pyradiomics")


def pyradiomics_installed() -> bool:
    try:
        import radiomics  # noqa: F401
    except ImportError:
        return False
    return True


def engine_for(requested: str, extractions: Iterable[Mapping[str, Any]], source: str | None = None) -> str:
    """"ours" or "pyradiomics" for PyRadiomics parameters ``extractions`` (the main one and the aggregations')."""
    if requested not in ENGINES:
        raise SettingsError(f"unknown engine '{requested}'", file=source, hint=f"use one of: {', '.join(ENGINES)}")
    problems = sorted({p for params in extractions for p in unsupported(params)})
    if requested == "pyradiomics" or (requested == "auto" and problems):
        if not pyradiomics_installed():
            needs = f" (our engine cannot compute {'; '.join(problems)})" if problems else ""
            raise SettingsError(f"PyRadiomics is not installed{needs}", file=source,
                                hint="install it (make setup) or leave the engine to auto with settings ours computes")
        return "pyradiomics"
    if problems:
        raise SettingsError(f"our feature engine cannot compute {'; '.join(problems)}", file=source,
                            hint="use --engine pyradiomics (or auto) for these settings")
    return "ours"
