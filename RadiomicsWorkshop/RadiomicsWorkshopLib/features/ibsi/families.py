"""The IBSI-1 features PyRadiomics lacks, computed for one ROI beside PyRadiomics' own.

A preset turns them on with ``workshop: ibsi_families: true`` (all families) or a
list of :data:`FAMILIES`; the ``IBSI`` preset does. Each ROI then gets, besides
PyRadiomics' columns, columns named like PyRadiomics' (``original_<class>_<feature>``):

================  ============================================================
class             features (module)
================  ============================================================
morphology        asphericity, centre of mass shift, AABB / AEE / convex-hull
                  densities, integrated intensity, Moran's I, Geary's C and the
                  axis lengths with the IBSI's N - 1 (``morphology``)
localintensity    local and global intensity peak (``intensity``)
statistics        median absolute deviation, coefficient of variation, quartile
                  coefficient of dispersion of the intensities (``statistics``)
histogram         the intensity-histogram family on the discretised intensities
                  (PyRadiomics' firstorder takes the intensities), but entropy
                  and uniformity, which firstorder computes on them (``statistics``)
ivh               intensity-volume histogram (``intensity``)
gldzm             grey level distance zone matrix, the IBSI's 16 (``gldzm``)
ngldm             the NGLDM features PyRadiomics' GLDM lacks (``ngldm``)
================  ============================================================

The image goes through PyRadiomics' own steps first (``loadImage``: normalisation
and resampling; ``checkMask``; ``resegmentMask``; ``binImage``; done by us with its
numbers: ``features.preparation``), with the preset's settings, so that our families see the same voxels and grey levels as
PyRadiomics' classes. Intensity-based families use the re-segmented mask,
morphology the mask as drawn (IBSI's intensity and morphological masks).
Computed on the original image only (no LoG or wavelet versions).

Under ``workshop: convention: ibsi`` the same preparation also feeds PyRadiomics' first-order and texture
classes, computed here with the IBSI's definitions (``firstorder``, ``texture``): fixed-size bins counted
from the re-segmentation range's lower bound, one discretisation of the whole ROI for every aggregation,
and the intensity mask optionally cut by outlier filtering (``outliers``) as well as by the range.

GLDZM and NGLDM follow GLSZM's aggregations: every aggregation of the preset
that computes ``glszm`` gets them too, as the IBSI aggregates zone matrices --
``per_slice`` ones as "2D" (features per slice, averaged), other ``force2D`` ones
as "2.5D" (slice matrices summed), the rest as "3D" -- with the aggregation's
column prefix (``original-2D-averaged_gldzm_...``).
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import numpy as np
import SimpleITK as sitk

from ...io.errors import SettingsError
from ..preparation import bin_edges, prepare
from . import gldzm, intensity, morphology, ngldm, statistics

FAMILIES = ("morphology", "localintensity", "statistics", "histogram", "ivh", "gldzm", "ngldm")
#: Of the morphology features computed, those PyRadiomics has no column for (its mesh volume and surface
#: area agree with ours); the axis lengths stay: PyRadiomics divides their covariance by N, the IBSI by N - 1.
MORPHOLOGY_COLUMNS = ("Asphericity", "CentreOfMassShift", "MajorAxisLength", "MinorAxisLength", "LeastAxisLength",
                      "VolumeDensityAABB", "AreaDensityAABB", "VolumeDensityAEE", "AreaDensityAEE",
                      "VolumeDensityConvexHull", "AreaDensityConvexHull", "IntegratedIntensity", "MoransI",
                      "GearysC")
#: The IBSI's GLDZM features (``gldzm`` also gives the grey level and zone distance means).
GLDZM_COLUMNS = tuple(f for f in gldzm.FEATURES if f not in ("GrayLevelMean", "ZoneDistanceMean"))
#: The NGLDM features PyRadiomics' GLDM lacks (the other 14 are PyRadiomics' ``gldm`` columns).
NGLDM_COLUMNS = ("GrayLevelNonUniformityNormalized", "DependenceCountPercentage", "DependenceCountEnergy")


def families_from_option(value: Any, *, source: str | None = None) -> tuple[str, ...]:
    """``workshop: ibsi_families``: true (all), false (none) or a list of family names."""
    if value is True:
        return FAMILIES
    if value is False or value is None:
        return ()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        unknown = [v for v in value if v not in FAMILIES]
        if not unknown:
            return tuple(f for f in FAMILIES if f in value)
        raise SettingsError(f"'workshop: ibsi_families' names unknown famil{'y' if len(unknown) == 1 else 'ies'} "
                            f"{', '.join(unknown)}", file=source, hint=f"known: {', '.join(FAMILIES)}")
    raise SettingsError("'workshop: ibsi_families' must be true, false or a list of families", file=source,
                        hint=f"families: {', '.join(FAMILIES)}")


def texture_aggregation(pyradiomics_settings: Mapping[str, Any], per_slice: bool) -> str:
    """The IBSI aggregation ("2D", "2.5D", "3D") of zone-type matrices under these PyRadiomics settings."""
    if per_slice:
        return "2D"
    return "2.5D" if pyradiomics_settings.get("force2D") else "3D"


def _margin(spacing_zyx) -> list[int]:
    """Voxels around the ROI that its local intensity sphere can reach (and one more)."""
    return [int(np.ceil(intensity.PEAK_RADIUS_MM / s)) + 1 for s in spacing_zyx]


def _prepared(image: sitk.Image, mask: sitk.Image, label: int, settings: Mapping[str, Any]):
    """PyRadiomics' preparation (``preparation.prepare``): the image and masks as its feature classes see
    them, as arrays (z, y, x) of the ROI's bounding box with a margin for the local intensity sphere."""
    roi = prepare(image, mask, label, settings, margin=_margin)
    return roi.values.astype(float), roi.drawn_mask, roi.intensity_mask, roi.spacing


def _discretised(values: np.ndarray, intensity_mask: np.ndarray, settings: Mapping[str, Any],
                 convention: str) -> tuple[np.ndarray, tuple[int, int], Any]:
    """The ROI's grey levels (0 outside the intensity mask), the discretisation's lowest and highest level,
    and the re-segmentation range when it is one in intensities (for the IVH)."""
    edges = bin_edges(values[intensity_mask], settings)
    levels = np.zeros(values.shape, dtype=np.int64)
    levels[intensity_mask] = np.digitize(values[intensity_mask], edges)
    level_range = (1, len(edges) - 1)
    # a range in HU (PyRadiomics' resegmentMode "absolute"); "relative" and "sigma" ranges are no intensities
    bounds = settings.get("resegmentRange") if settings.get("resegmentMode", "absolute") == "absolute" else None
    if convention == "ibsi" and settings.get("binCount") is None and bounds:
        # the IBSI's fixed bin size: bins counted from the re-segmentation range's lower bound (PyRadiomics
        # counts them from the ROI's lowest intensity, rounded down to a multiple of the bin width)
        lowest, width = float(bounds[0]), float(settings.get("binWidth", 25))
        levels = np.where(intensity_mask, np.floor((values - lowest) / width) + 1, 0).astype(int)
        level_range = (int(levels[intensity_mask].min()), int(levels[intensity_mask].max()))
    return levels, level_range, bounds


def case_features(image: sitk.Image, mask: sitk.Image, label: int, settings: Mapping[str, Any],
                  families: Iterable[str] = FAMILIES,
                  texture_aggregations: Mapping[str, tuple[str, int]] | None = None,
                  ivh: Mapping[str, Any] | None = None, convention: str = "pyradiomics",
                  extractions: Mapping[str, Mapping[str, Any]] | None = None,
                  outliers: float | None = None) -> dict[str, float]:
    """Our families' columns for one ROI (see the module doc).

    ``settings``: PyRadiomics' ``setting`` section. ``texture_aggregations``: column prefix ->
    (IBSI aggregation, slice axis in numpy order) for GLDZM and NGLDM; default ``{"original": ("3D", 0)}``.
    ``ivh``: the IVH's own discretisation (``intensity.ivh_option``); None: the texture's grey levels.
    ``convention``: "pyradiomics" (its grey levels, as its classes see them) or "ibsi" (a fixed bin size
    counted from the re-segmentation range's lower bound). ``extractions``: with "ibsi", PyRadiomics'
    first-order (main extraction) and texture classes computed by us for these extractions
    (``texture.texture_columns``). ``outliers``: the intensity mask also loses voxels further than this
    many standard deviations from the ROI's mean (the IBSI's outlier filtering, with the range if any).
    """
    families = tuple(families)
    values, morph_mask, intensity_mask, spacing = _prepared(image, mask, label, settings)
    if outliers is not None:  # the morphological ROI's mean and (population) SD, as the IBSI defines it
        roi_values = values[morph_mask]
        intensity_mask = intensity_mask & (np.abs(values - roi_values.mean()) <= outliers * roi_values.std())
    if not intensity_mask.any():
        raise ValueError("no voxel of the ROI is left after re-segmentation (resegmentRange)")
    levels, level_range, bounds = _discretised(values, intensity_mask, settings, convention)
    roi_levels = levels[intensity_mask]
    out: dict[str, float] = {}

    def add(family: str, features: Mapping[str, float], prefix: str = "original",
            keep: Iterable[str] | None = None) -> None:
        for name in (keep if keep is not None else features):
            out[f"{prefix}_{family}_{name}"] = float(features[name])

    if extractions:
        from .firstorder import firstorder_features
        from .texture import texture_columns

        main_classes = extractions["original"]["featureClass"]
        if "firstorder" in main_classes:
            add("firstorder", firstorder_features(values[intensity_mask], roi_levels, float(np.prod(spacing)),
                                                  float(settings.get("voxelArrayShift", 0)),
                                                  main_classes["firstorder"]))
        out.update(texture_columns(np.where(intensity_mask, levels, 0), level_range[1], extractions,
                                   float(settings.get("gldm_a", 0))))

    if "morphology" in families:
        add("morphology", morphology.morphology_features(values, morph_mask, spacing, intensity_mask),
            keep=MORPHOLOGY_COLUMNS)
    if "localintensity" in families:
        add("localintensity", intensity.local_intensity_features(values, intensity_mask, spacing))
    if "statistics" in families:
        add("statistics", statistics.dispersion_features(values[intensity_mask]))
    if "histogram" in families:
        add("histogram", statistics.histogram_features(roi_levels, level_range=level_range))
    if "ivh" in families:
        if ivh is None:
            add("ivh", intensity.ivh_features(roi_levels, level_range=level_range))
        else:
            ivh_levels, ivh_range, interval = intensity.ivh_discretised(values[intensity_mask], ivh, bounds)
            add("ivh", intensity.ivh_features(ivh_levels, level_range=ivh_range, interval=interval))
    by_axis: dict[int, dict[str, list[str]]] = {}  # slice axis -> {IBSI aggregation: column prefixes}
    for prefix, (aggregation, axis) in (texture_aggregations or {"original": ("3D", 0)}).items():
        by_axis.setdefault(axis, {}).setdefault(aggregation, []).append(prefix)
    for axis, prefixes in by_axis.items():
        texture_levels = np.moveaxis(np.where(intensity_mask, levels, 0), axis, 0)
        texture_mask = np.moveaxis(intensity_mask, axis, 0)
        if "gldzm" in families:  # zones in the intensity mask, distances to the morphological mask's edge
            for aggregation, features in gldzm.gldzm_by_aggregation(texture_levels, texture_mask, level_range[1],
                                                                         prefixes,
                                                                         np.moveaxis(morph_mask, axis, 0)).items():
                for prefix in prefixes[aggregation]:
                    add("gldzm", features, prefix, keep=GLDZM_COLUMNS)
        if "ngldm" in families:
            alpha = float(settings.get("gldm_a", 0))
            for aggregation, features in ngldm.ngldm_by_aggregation(texture_levels, texture_mask, level_range[1],
                                                                         prefixes, alpha).items():
                for prefix in prefixes[aggregation]:
                    add("ngldm", features, prefix, keep=NGLDM_COLUMNS)
    return out
