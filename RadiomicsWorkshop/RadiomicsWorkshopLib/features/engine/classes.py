"""PyRadiomics' feature classes in PyRadiomics' convention, computed by us from one prepared ROI (``prepare``):
its discretisation (``preparation.discretised``), its first order, its shape (``shape``), and its texture classes as
the IBSI's matrices aggregated as PyRadiomics aggregates them (``ibsi.texture.aggregation_of``: per
direction averaged, ``force2D`` in-plane, ``weightingNorm: no_weighting`` merged), under its names.

What the engine does not compute yet is refused when the settings are read (``unsupported``), never
skipped: a table has every column PyRadiomics would give it, or the run stops with what to do instead.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..ibsi import firstorder, glcm, glrlm, glszm, ngtdm
from ..ibsi.statistics import DISPERSION, dispersion_features
from ..ibsi.texture import GLDM_NAMES, texture_columns
from . import shape
from .filters import IMAGE_TYPES
from ..preparation import PreparedRoi, discretised

#: class -> the features our engine computes (PyRadiomics' defaults, plus the deprecated ones we have).
FEATURES = {"firstorder": firstorder.ALL, "shape": shape.FEATURES + shape.DEPRECATED,
            "shape2D": shape.FEATURES_2D + shape.DEPRECATED_2D, "glcm": glcm.FEATURES,
            "glrlm": glrlm.FEATURES, "glszm": glszm.FEATURES, "gldm": tuple(GLDM_NAMES.values()),
            "ngtdm": ngtdm.FEATURES, "statistics": DISPERSION}
#: classes of ours alone (the IBSI's intensity statistics PyRadiomics lacks), never among PyRadiomics' defaults
OURS_ONLY = ("statistics",)
#: settings -> (what our engine needs, said as a condition)
_SETTINGS = {"weightingNorm": (lambda v: v in (None, "no_weighting", "infinity", "euclidean", "manhattan"),
                               "weightingNorm: none, no_weighting, infinity, euclidean or manhattan"),
             "distances": (lambda v: len(v) > 0 and all(isinstance(d, int) and d > 0 for d in v),
                           "distances: positive whole numbers")}


def unsupported(params: Mapping[str, Any]) -> list[str]:
    """What in these PyRadiomics parameters (``imageType``, ``featureClass``, ``setting``) our engine cannot
    compute yet, as sentences; empty: everything."""
    problems = []
    for image_type in (params.get("imageType") or {"Original": {}}):
        if image_type not in IMAGE_TYPES:
            problems.append(f"image type {image_type} (our engine: {', '.join(IMAGE_TYPES)} so far)")
    for name, names in (params.get("featureClass") or {}).items():
        if name not in FEATURES:
            problems.append(f"feature class {name}")
        elif names:
            missing = sorted(set(names) - set(FEATURES[name]))
            if missing:
                problems.append(f"{name} feature(s) {', '.join(missing)}")
    setting = params.get("setting") or {}
    for key, (fits, condition) in _SETTINGS.items():
        if key in setting and not fits(setting[key]):
            problems.append(f"setting {key}: {setting[key]} (our engine: {condition})")
    return problems


#: PyRadiomics' default features of each class (those not deprecated); its order: by getter method name.
DEFAULTS = {"firstorder": firstorder.FEATURES, "shape": shape.FEATURES, "shape2D": shape.FEATURES_2D,
            "glcm": glcm.FEATURES, "glrlm": glrlm.FEATURES, "glszm": glszm.FEATURES,
            "gldm": tuple(GLDM_NAMES.values()), "ngtdm": ngtdm.FEATURES}
#: PyRadiomics' classes when a parameter file names none: all but shape2D, by name.
DEFAULT_CLASSES = {name: [] for name in sorted(DEFAULTS) if name != "shape2D"}


def roi_features(roi: PreparedRoi, feature_classes: Mapping[str, Any], settings: Mapping[str, Any],
                 prefix: str = "original") -> dict[str, float]:
    """``<prefix>_<class>_<feature>`` for the classes asked for (an empty list: PyRadiomics' defaults), in
    PyRadiomics' order: shape first, then the classes as given; a class's features as listed, else as
    PyRadiomics lists its getters (by name, ``get<Feature>FeatureValue``)."""
    classes = {name: list(names) if names else list(FEATURES[name]) if name in OURS_ONLY
               else sorted(DEFAULTS[name], key=lambda f: f"get{f}FeatureValue")
               for name, names in (dict(feature_classes) or DEFAULT_CLASSES).items()}
    found: dict[str, dict[str, float]] = {}
    if "shape" in classes:
        if roi.dimension != 3:
            raise ValueError("Shape features are only available in 3D. If 2D, use shape2D instead")
        found["shape"] = shape.shape_features(roi.shape_mask, roi.spacing, classes["shape"])
    if "shape2D" in classes:
        found["shape2D"] = _shape2d(roi, classes["shape2D"], settings)
    levels, n_levels = discretised(roi.values, roi.intensity_mask, settings)
    if "firstorder" in classes:
        found["firstorder"] = firstorder.firstorder_features(
            roi.values[roi.intensity_mask], levels[roi.intensity_mask], float(np.prod(roi.spacing)),
            float(settings.get("voxelArrayShift", 0)), classes["firstorder"])
    if "statistics" in classes:
        found["statistics"] = {k: v for k, v in dispersion_features(roi.values[roi.intensity_mask]).items()
                               if k in classes["statistics"]}
    texture = {name: names for name, names in classes.items()
               if name not in ("shape", "shape2D", "firstorder") + OURS_ONLY}
    if texture:
        columns = texture_columns(levels, n_levels, {prefix: {"setting": settings, "per_slice": False,
                                                              "featureClass": texture}},
                                  float(settings.get("gldm_a", 0)), roi.spacing, pyradiomics=True)
        for name in texture:
            found[name] = {f: columns[f"{prefix}_{name}_{f}"] for f in classes[name]}
    order = [c for c in classes if c.startswith("shape")] + [c for c in classes if not c.startswith("shape")]
    return {f"{prefix}_{name}_{feature}": value for name in order for feature, value in found[name].items()}


def _shape2d(roi: PreparedRoi, names, settings: Mapping[str, Any]) -> dict[str, float]:
    """shape2D of a 2D ROI: PyRadiomics' rule, ``force2D`` and one slice along ``force2Ddimension``."""
    axis = int(settings.get("force2Ddimension", 0)) if roi.dimension == 3 else 0
    if roi.dimension == 3 and not settings.get("force2D", False):
        raise ValueError("Shape2D is can only be calculated when input is 2D or 3D with `force2D=True`")
    if roi.shape_mask.shape[axis] > 1:
        raise ValueError(f"Size of the mask in dimension {axis} is more than 1, cannot compute 2D shape")
    spacing = [s for a, s in enumerate(roi.spacing) if a != axis]
    return shape.shape2d_features(np.squeeze(roi.shape_mask, axis=axis), spacing, names or None)
