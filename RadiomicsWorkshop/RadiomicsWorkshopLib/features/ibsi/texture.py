"""PyRadiomics' texture classes in the IBSI's convention (``workshop: convention: ibsi``): computed by us on
the IBSI-discretised ROI, for the main extraction and every aggregation of the preset, in PyRadiomics'
column names.

A preset's extractions map onto the IBSI's aggregations by their PyRadiomics settings, as the IBSI preset
documents them: ``force2D`` -> 2.5D, with ``per_slice`` -> 2D, otherwise 3D; ``weightingNorm:
no_weighting`` -> directions (and slices) merged, none -> averaged (GLCM, GLRLM). The GLDM is the IBSI's
NGLDM (``ngldm``) under PyRadiomics' GLDM names.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ...io.errors import SettingsError
from . import glcm, glrlm, glszm, ngldm, ngtdm

CLASSES = ("glcm", "glrlm", "glszm", "gldm", "ngtdm")
#: PyRadiomics' classes we compute under the IBSI convention (first order: ``firstorder``); shape stays theirs.
OURS = ("firstorder",) + CLASSES
DIRECTIONAL_CLASSES = ("glcm", "glrlm")
#: The NGLDM's IBSI names -> PyRadiomics' GLDM names (the 3 NGLDM features without one: ``families``).
GLDM_NAMES = {"LowDependenceEmphasis": "SmallDependenceEmphasis", "HighDependenceEmphasis": "LargeDependenceEmphasis",
              "LowGrayLevelCountEmphasis": "LowGrayLevelEmphasis", "HighGrayLevelCountEmphasis": "HighGrayLevelEmphasis",
              "LowDependenceLowGrayLevelEmphasis": "SmallDependenceLowGrayLevelEmphasis",
              "LowDependenceHighGrayLevelEmphasis": "SmallDependenceHighGrayLevelEmphasis",
              "HighDependenceLowGrayLevelEmphasis": "LargeDependenceLowGrayLevelEmphasis",
              "HighDependenceHighGrayLevelEmphasis": "LargeDependenceHighGrayLevelEmphasis",
              "GrayLevelNonUniformity": "GrayLevelNonUniformity",
              "DependenceCountNonUniformity": "DependenceNonUniformity",
              "DependenceCountNonUniformityNormalized": "DependenceNonUniformityNormalized",
              "GrayLevelVariance": "GrayLevelVariance", "DependenceCountVariance": "DependenceVariance",
              "DependenceCountEntropy": "DependenceEntropy"}


def check_settings(setting: Mapping[str, Any], source: str | None = None, where: str = "setting") -> None:
    """Refuse PyRadiomics settings the IBSI convention has no meaning for (errors name the file and key)."""
    distances = setting.get("distances", [1])
    if list(distances) != [1]:
        raise SettingsError(f"'{where}: distances: {distances}' with 'workshop: convention: ibsi': the IBSI texture "
                            "neighbourhood is Chebyshev distance 1", file=source, hint="use distances: [1]")
    if setting.get("symmetricalGLCM", True) is not True:
        raise SettingsError(f"'{where}: symmetricalGLCM: false' with 'workshop: convention: ibsi': the IBSI's GLCM "
                            "is symmetric", file=source, hint="drop symmetricalGLCM or set it true")
    norm = setting.get("weightingNorm")
    if norm not in (None, "no_weighting"):
        raise SettingsError(f"'{where}: weightingNorm: {norm}' has no IBSI aggregation", file=source,
                            hint="no_weighting merges the directions' matrices, none averages their features")


def aggregation_of(texture_class: str, setting: Mapping[str, Any], per_slice: bool) -> str:
    """The IBSI aggregation that a PyRadiomics extraction with ``setting`` (and ``per_slice``) stands for."""
    dimension = "2D" if per_slice else "2.5D" if setting.get("force2D") else "3D"
    if texture_class not in DIRECTIONAL_CLASSES:
        return dimension
    merged = setting.get("weightingNorm") is not None  # weighted (no_weighting: by 1) and summed
    if dimension == "2D":
        return "2D, slice-merged" if merged else "2D, averaged"
    return f"{dimension}, merged" if merged else f"{dimension}, averaged" if dimension == "3D" \
        else "2.5D, direction-merged"


def direction_weights(texture_class: str, norm: str | None, directions, spacing) -> np.ndarray | None:
    """PyRadiomics' ``weightingNorm`` weights of each direction (z, y, x steps; ``spacing`` in mm, same order):
    for GLCM exp(-d**2) of the step's length d by the norm, for GLRLM d itself; None: no weighting."""
    if norm is None:
        return None
    steps = np.abs(np.asarray(directions, dtype=float)) * np.asarray(spacing, dtype=float)
    if norm == "no_weighting":
        return np.ones(len(steps))
    length = {"infinity": steps.max(axis=1), "manhattan": steps.sum(axis=1)}.get(norm)
    squared = (steps ** 2).sum(axis=1) if norm == "euclidean" else length ** 2
    if texture_class == "glcm":
        return np.exp(-squared)
    return np.sqrt(squared) if norm == "euclidean" else length


def _class_features(texture_class: str, levels: np.ndarray, n_levels: int, aggregations: tuple[str, ...],
                    alpha: float, setting: Mapping[str, Any], spacing,
                    pyradiomics: bool = False) -> dict[str, dict[str, float]]:
    distances = tuple(setting.get("distances", [1]))
    norm = setting.get("weightingNorm")
    in_plane = not any(a.startswith("3D") for a in aggregations)
    if texture_class in ("glcm", "glrlm"):
        from .aggregation import DIRECTIONS, offsets

        directions = offsets(distances, in_plane) if texture_class == "glcm" else \
            (DIRECTIONS[:4] if in_plane else DIRECTIONS)
        weights = direction_weights(texture_class, norm, directions, spacing) if spacing is not None else None
        if texture_class == "glcm":
            return glcm.glcm_by_aggregation(levels, n_levels, aggregations, directions,
                                            bool(setting.get("symmetricalGLCM", True)), weights)
        return glrlm.glrlm_by_aggregation(levels, n_levels, aggregations, weights)
    if texture_class == "glszm":
        return glszm.glszm_by_aggregation(levels, n_levels, aggregations)
    if texture_class == "ngtdm":
        return ngtdm.ngtdm_by_aggregation(levels, n_levels, aggregations, distances, every_voxel=pyradiomics)
    found = ngldm.ngldm_by_aggregation(levels, levels > 0, n_levels, aggregations, alpha, distances)
    return {a: {GLDM_NAMES[n]: v for n, v in f.items() if n in GLDM_NAMES} for a, f in found.items()}


def texture_columns(levels: np.ndarray, n_levels: int, extractions: Mapping[str, Mapping[str, Any]],
                    alpha: float = 0, spacing=None, pyradiomics: bool = False) -> dict[str, float]:
    """``<prefix>_<class>_<feature>`` for every extraction of the preset.

    ``levels``: the discretised ROI (1..n_levels inside the intensity mask, 0 outside; z, y, x).
    ``extractions``: column prefix (``original``, ``original-2D-averaged``) -> {"setting": PyRadiomics
    settings, "per_slice": bool, "featureClass": PyRadiomics' section (empty list: every feature)}.
    ``alpha``: the NGLDM's coarseness (PyRadiomics' ``gldm_a``); ``spacing``: (z, y, x) in mm, for
    PyRadiomics' direction weights (``weightingNorm``); ``pyradiomics``: PyRadiomics' convention where it
    departs from the IBSI's in the matrices themselves (the NGTDM's n_i counts voxels without neighbours)."""
    # (axis, class, the settings that change its matrices) -> aggregation -> who
    wanted: dict[tuple, dict[str, list[tuple[str, Any]]]] = {}
    for prefix, extraction in extractions.items():
        setting = extraction["setting"]
        axis = int(setting.get("force2Ddimension", 0)) if setting.get("force2D") or extraction["per_slice"] else 0
        matrix_settings = (tuple(setting.get("distances", [1])), bool(setting.get("symmetricalGLCM", True)),
                           setting.get("weightingNorm"))
        for texture_class, names in (extraction["featureClass"] or {}).items():
            if texture_class in CLASSES:
                aggregation = aggregation_of(texture_class, setting, extraction["per_slice"])
                key = (axis, texture_class, matrix_settings)
                wanted.setdefault(key, {}).setdefault(aggregation, []).append((prefix, names))
    out: dict[str, float] = {}
    for (axis, texture_class, (distances, symmetric, norm)), by_aggregation in wanted.items():
        setting = {"distances": list(distances), "symmetricalGLCM": symmetric, "weightingNorm": norm}
        order = [axis] + [a for a in range(3) if a != axis]  # the axes as np.moveaxis(levels, axis, 0) has them
        moved = None if spacing is None else np.asarray(spacing, dtype=float)[order]
        found = _class_features(texture_class, np.moveaxis(levels, axis, 0), n_levels, tuple(by_aggregation), alpha,
                                setting, moved, pyradiomics)
        for aggregation, users in by_aggregation.items():
            for prefix, names in users:
                for name, value in found[aggregation].items():
                    if not names or name in names:
                        out[f"{prefix}_{texture_class}_{name}"] = value
    return out
