"""Which engine computes a preset's features: ours (``extractor.Extractor``) or PyRadiomics.

``auto`` (the default) takes ours wherever it computes everything the preset asks for (its classes,
features, settings and image types, in the main extraction and every aggregation: ``classes.unsupported``)
and PyRadiomics for the rest; ``ours`` and ``pyradiomics`` insist, with a clear error where they cannot.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from ...io.errors import SettingsError
from ..ibsi2.image_types import IMAGE_TYPES as IBSI2_TYPES
from .classes import OURS_ONLY, unsupported

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
    extractions = list(extractions)
    problems = sorted({p for params in extractions for p in unsupported(params)})
    ours_only = sorted({t for params in extractions for t in (params.get("imageType") or {}) if t in IBSI2_TYPES}
                       | {c for params in extractions for c in (params.get("featureClass") or {}) if c in OURS_ONLY})
    if ours_only and (requested == "pyradiomics" or problems):
        raise SettingsError(f"{', '.join(ours_only)}: computed by our engine alone, which cannot compute "
                            f"{'; '.join(problems)}" if problems else
                            f"{', '.join(ours_only)}: computed by our engine alone, not by PyRadiomics", file=source,
                            hint="leave the engine to auto (or ours), or extract those separately")
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
