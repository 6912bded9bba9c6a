"""Image preprocessing with SimpleITK: N4 bias-field correction, denoising,
resampling, intensity normalisation.

Each step is a function ``(image, mask, **options) -> StepResult``; a recipe
(see :mod:`recipes`) applies them in order. Masks travel along so that a
resampling step resamples them too and normalisation can use the ROI or body.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np
import SimpleITK as sitk

from ..io.errors import InputError, SettingsError


@dataclass
class StepResult:
    image: sitk.Image
    mask: sitk.Image | None = None
    extra: dict[str, sitk.Image] = field(default_factory=dict)  # e.g. the bias field
    info: dict[str, Any] = field(default_factory=dict)


def _as_float(image: sitk.Image) -> sitk.Image:
    return sitk.Cast(image, sitk.sitkFloat32)


def body_mask(image: sitk.Image) -> sitk.Image:
    """Otsu foreground, holes filled, largest connected component: the body/head."""
    foreground = sitk.OtsuThreshold(_as_float(image), 0, 1, 128)
    foreground = sitk.BinaryFillhole(foreground)
    components = sitk.RelabelComponent(sitk.ConnectedComponent(foreground), sortByObjectSize=True)
    return sitk.Cast(components == 1, sitk.sitkUInt8)


def _check_image(image: sitk.Image, step: str) -> None:
    if image.GetDimension() != 3 or min(image.GetSize()) < 2:
        raise InputError(f"{step} needs a 3D image; this one has size {image.GetSize()}",
                         hint="preprocess 3D volumes; for a 2D data set use normalisation steps only")
    stats = sitk.StatisticsImageFilter()
    stats.Execute(image)
    if stats.GetMaximum() == stats.GetMinimum():
        raise InputError(f"image is constant ({stats.GetMinimum():g} everywhere): nothing to {step}",
                         hint="check that the image file is the right one and not empty")


# --------------------------------------------------------------------------- N4


def n4_bias_correction(image: sitk.Image, mask: sitk.Image | None = None, *, shrink_factor: int = 8,
                       iterations: Sequence[int] = (50, 40), convergence: float = 1e-3,
                       spline_distance_mm: float = 100.0, use_mask: str = "body", shift: bool = False,
                       return_bias_field: bool = False) -> StepResult:
    """N4 on a shrunken copy (the field is smooth), applied at full resolution.

    ``use_mask``: "body" (Otsu foreground, default), "roi" (the mask given) or
    "none". N4 works on log intensities: non-positive voxels inside its mask are
    refused unless ``shift`` adds an offset (recorded in the info).
    """
    _check_image(image, "N4 bias-field correction")
    original = _as_float(image)
    factors = [max(1, min(int(shrink_factor), size // 16)) for size in original.GetSize()]
    small = sitk.Shrink(original, factors)  # the field is smooth: estimate it on a coarse copy
    if use_mask == "body":
        small_mask = body_mask(small)
    elif use_mask == "roi":
        if mask is None:
            raise SettingsError("n4 use_mask: roi needs a mask", hint="give a mask or use use_mask: body")
        small_mask = sitk.Shrink(sitk.Cast(mask > 0, sitk.sitkUInt8), factors)
    elif use_mask == "none":
        small_mask = sitk.Image(small.GetSize(), sitk.sitkUInt8) + 1
        small_mask.CopyInformation(small)
    else:
        raise SettingsError(f"n4 use_mask must be body, roi or none, not '{use_mask}'")
    values = sitk.GetArrayFromImage(small)[sitk.GetArrayFromImage(small_mask) > 0]
    offset = 0.0
    if values.size == 0:
        raise InputError("N4 mask is empty", hint="check the mask or use use_mask: body")
    non_positive = float(np.mean(values <= 0))
    if non_positive > 0.05:  # a few zero voxels (MR air pockets) are left out; an image below zero is not MR
        if not shift:
            raise InputError(f"N4 works on log intensities, but {non_positive:.0%} of the masked voxels are <= 0 "
                             f"(minimum {values.min():g})",
                             hint="N4 is for MR magnitude images; set 'shift: true' in the n4 step to add an offset")
        offset = float(1.0 - sitk.GetArrayViewFromImage(original).min())
        original = original + offset
        small = small + offset
    small_mask = sitk.Mask(small_mask, small > 0)  # voxels <= 0 carry no bias information
    corrector = sitk.N4BiasFieldCorrectionImageFilter()
    corrector.SetMaximumNumberOfIterations([int(i) for i in iterations])
    corrector.SetConvergenceThreshold(float(convergence))
    extent = np.array(original.GetSize()) * np.array(original.GetSpacing())
    order = corrector.GetSplineOrder()
    corrector.SetNumberOfControlPoints([max(order + 1, int(math.ceil(e / spline_distance_mm)) + order)
                                        for e in extent])
    corrector.Execute(small, small_mask)
    log_field = corrector.GetLogBiasFieldAsImage(original)
    corrected = original / sitk.Exp(log_field)
    if offset:
        corrected = corrected - offset
    result = StepResult(sitk.Cast(corrected, sitk.sitkFloat32), mask,
                        info={"shrink": factors, "iterations": list(iterations), "convergence": convergence,
                              "spline_distance_mm": spline_distance_mm, "mask": use_mask, "offset": offset,
                              "control_points": list(corrector.GetNumberOfControlPoints())})
    if return_bias_field:
        result.extra["bias_field"] = sitk.Cast(sitk.Exp(log_field), sitk.sitkFloat32)
    return result


# --------------------------------------------------------------------------- denoising

DENOISE_METHODS = ("curvature_anisotropic", "nl_means")


def denoise(image: sitk.Image, mask: sitk.Image | None = None, *, method: str = "curvature_anisotropic",
            iterations: int = 5, conductance: float = 1.0, time_step: float | None = None,
            patch_size: int = 3, patch_distance: int = 3, h_factor: float = 0.6) -> StepResult:
    """Edge-preserving denoising: curvature anisotropic diffusion (SimpleITK) or
    non-local means (scikit-image, noise level estimated from the image)."""
    _check_image(image, "denoise")
    original = _as_float(image)
    if method == "curvature_anisotropic":
        spacing = min(original.GetSpacing())
        step = time_step or 0.9 * spacing / 2 ** (original.GetDimension() + 1)  # stability limit
        out = sitk.CurvatureAnisotropicDiffusion(original, timeStep=step, conductanceParameter=conductance,
                                                 conductanceScalingUpdateInterval=1,
                                                 numberOfIterations=int(iterations))
        return StepResult(out, mask, info={"method": method, "iterations": iterations, "conductance": conductance,
                                           "time_step": step})
    if method == "nl_means":
        from skimage.restoration import denoise_nl_means, estimate_sigma

        array = sitk.GetArrayFromImage(original)
        sigma = float(estimate_sigma(array))
        out = denoise_nl_means(array, patch_size=patch_size, patch_distance=patch_distance, h=h_factor * sigma,
                               sigma=sigma, fast_mode=True, channel_axis=None)
        result = sitk.GetImageFromArray(out.astype(np.float32))
        result.CopyInformation(original)
        return StepResult(result, mask, info={"method": method, "sigma": sigma, "patch_size": patch_size,
                                              "patch_distance": patch_distance, "h_factor": h_factor})
    raise SettingsError(f"unknown denoise method '{method}'", hint=f"use one of: {', '.join(DENOISE_METHODS)}")


# --------------------------------------------------------------------------- resampling

INTERPOLATORS = {"nearest": sitk.sitkNearestNeighbor, "linear": sitk.sitkLinear, "bspline": sitk.sitkBSpline,
                 "lanczos": sitk.sitkLanczosWindowedSinc}


GRIDS = ("extent", "ibsi")


def _reference_grid(image: sitk.Image, spacing: Sequence[float], grid: str = "extent") -> sitk.Image:
    """The new voxel grid. "extent": the size rounded, the physical extent kept. "ibsi": the IBSI-1 reference
    manual's grid ("Notes on interpolation", docs/05_Reference_data_sets.rst): the size rounded up (never smaller
    than the original extent) and the grid centred on the original grid's centre."""
    spacing = [float(s) if s else float(o) for s, o in zip(spacing, image.GetSpacing())]  # 0/None keeps an axis
    old_size, old_spacing = np.array(image.GetSize()), np.array(image.GetSpacing())
    direction = np.array(image.GetDirection()).reshape(3, 3)
    if grid == "ibsi":
        size = [max(1, math.ceil(n * o / s - 1e-6)) for n, o, s in zip(old_size, old_spacing, spacing)]
        centre = np.array(image.GetOrigin()) + direction @ ((old_size - 1) * old_spacing / 2.0)
        origin = centre - direction @ ((np.array(size) - 1) * np.array(spacing) / 2.0)
    else:
        size = [max(1, int(round(n * o / s))) for n, o, s in zip(old_size, old_spacing, spacing)]
        # Keep the physical extent: the first voxel centre moves by half the change of voxel size.
        origin = np.array(image.GetOrigin()) + direction @ ((np.array(spacing) - old_spacing) / 2.0)
    reference = sitk.Image([int(n) for n in size], sitk.sitkUInt8)
    reference.SetSpacing(spacing)
    reference.SetDirection(image.GetDirection())
    reference.SetOrigin(tuple(float(v) for v in origin))
    return reference


def resample(image: sitk.Image, mask: sitk.Image | None = None, *, spacing: Sequence[float] = (1.0, 1.0, 1.0),
             interpolator: str = "bspline", mask_mode: str = "partial_volume",
             mask_threshold: float = 0.5, grid: str = "extent", round_intensities: bool = False) -> StepResult:
    """Resample to ``spacing`` (mm; 0 keeps an axis, e.g. [2, 2, 0] in-plane only) in the same orientation.

    Masks: "nearest" neighbour, or "partial_volume": each label is resampled as a
    fraction (linear) and kept where it covers at least ``mask_threshold`` of the
    voxel, which keeps ROI volumes where nearest neighbour would not.
    ``grid``: "extent" keeps the physical extent; "ibsi" is the IBSI's grid (size rounded up, centred on the
    original). Its outer voxel centres never leave the original extent, ((m - 1) s < n o), where ITK's
    interpolators take the border voxels' values: the IBSI's nearest-intensity padding. ``round_intensities``: round
    the interpolated intensities to the nearest integer (the IBSI's CT configurations: Hounsfield units stay
    integers).
    """
    if image.GetDimension() != 3:
        raise InputError(f"resampling needs a 3D image; this one has size {image.GetSize()}",
                         hint="2D data sets are used at their own pixel size")
    if len(spacing) != 3 or any(s is not None and s < 0 for s in spacing):
        raise SettingsError(f"resample spacing must be three positive numbers (mm), not {list(spacing)}",
                            hint="0 keeps an axis's voxel size, e.g. [2, 2, 0] resamples in-plane only")
    if interpolator not in INTERPOLATORS:
        raise SettingsError(f"unknown interpolator '{interpolator}'", hint=f"use one of: {', '.join(INTERPOLATORS)}")
    if grid not in GRIDS:
        raise SettingsError(f"unknown resampling grid '{grid}'", hint=f"use one of: {', '.join(GRIDS)}")
    reference = _reference_grid(image, spacing, grid)
    out = sitk.Resample(_as_float(image), reference, sitk.Transform(), INTERPOLATORS[interpolator], 0.0,
                        sitk.sitkFloat32)
    if round_intensities:
        out = sitk.Round(out)
    new_mask = None
    if mask is not None:
        new_mask = resample_mask(mask, reference, mode=mask_mode, threshold=mask_threshold)
    return StepResult(out, new_mask, info={"spacing": list(reference.GetSpacing()), "size": list(reference.GetSize()),
                                           "interpolator": interpolator, "mask_mode": mask_mode, "grid": grid,
                                           "round_intensities": round_intensities})


def resample_mask(mask: sitk.Image, reference: sitk.Image, *, mode: str = "partial_volume",
                  threshold: float = 0.5) -> sitk.Image:
    if mode == "nearest":
        return sitk.Resample(mask, reference, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
    if mode != "partial_volume":
        raise SettingsError(f"mask_mode must be nearest or partial_volume, not '{mode}'")
    out = sitk.Image(reference.GetSize(), sitk.sitkUInt8)
    out.CopyInformation(reference)
    array = sitk.GetArrayViewFromImage(mask)
    for label in [int(v) for v in np.unique(array[array != 0])]:
        fraction = sitk.Resample(sitk.Cast(mask == label, sitk.sitkFloat32), reference, sitk.Transform(),
                                 sitk.sitkLinear, 0.0, sitk.sitkFloat32)
        out = sitk.Mask(out, fraction < threshold) + sitk.Cast(fraction >= threshold, sitk.sitkUInt8) * label
    return out


# --------------------------------------------------------------------------- normalisation

NORMALIZE_METHODS = ("zscore", "percentile_clip", "histogram", "ct_window")


def _region(image: sitk.Image, mask: sitk.Image | None, region: str) -> np.ndarray:
    array = sitk.GetArrayFromImage(image)  # a copy: callers pass temporaries, a view would outlive them
    if region == "image":
        return array.ravel()
    if region == "roi":
        if mask is None:
            raise SettingsError("normalisation region 'roi' needs a mask", hint="give a mask or use region: body")
        return array[sitk.GetArrayViewFromImage(mask) > 0]
    if region == "body":
        return array[sitk.GetArrayFromImage(body_mask(image)) > 0]  # not a view: the mask is a temporary
    raise SettingsError(f"normalisation region must be image, body or roi, not '{region}'")


def _from_array(array: np.ndarray, like: sitk.Image) -> sitk.Image:
    image = sitk.GetImageFromArray(array.astype(np.float32))
    image.CopyInformation(like)
    return image


def normalize(image: sitk.Image, mask: sitk.Image | None = None, *, method: str = "zscore", region: str = "body",
              low: float = 0.5, high: float = 99.5, level: float = 40.0, width: float = 400.0,
              landmarks: Sequence[float] | None = None, percentiles: Sequence[float] | None = None) -> StepResult:
    """z-score, percentile clipping, histogram standardisation (Nyul; landmarks
    learnt on a cohort by :class:`HistogramStandardizer`), CT window (HU)."""
    if method not in NORMALIZE_METHODS:
        raise SettingsError(f"unknown normalisation '{method}'", hint=f"use one of: {', '.join(NORMALIZE_METHODS)}")
    array = sitk.GetArrayFromImage(_as_float(image))
    if method == "ct_window":
        lo, hi = level - width / 2.0, level + width / 2.0
        return StepResult(_from_array(np.clip(array, lo, hi), image), mask,
                          info={"method": method, "level": level, "width": width})
    values = _region(_as_float(image), mask, region)
    if values.size == 0 or float(values.std()) == 0.0:
        raise InputError(f"no intensity variation in the {region} region: cannot normalise",
                         hint="check the image (all-zero?) or choose another region")
    if method == "zscore":
        mean, std = float(values.mean()), float(values.std())
        return StepResult(_from_array((array - mean) / std, image), mask,
                          info={"method": method, "region": region, "mean": mean, "std": std})
    if method == "percentile_clip":
        lo, hi = np.percentile(values, [low, high])
        return StepResult(_from_array(np.clip(array, lo, hi), image), mask,
                          info={"method": method, "region": region, "low": float(lo), "high": float(hi)})
    if landmarks is None:
        raise SettingsError("histogram normalisation needs landmarks learnt on a cohort",
                            hint="run `radiomics-workshop preprocess --manifest ...`, which learns them first")
    standardizer = HistogramStandardizer(percentiles=percentiles or HistogramStandardizer.PERCENTILES, region=region)
    standardizer.landmarks_ = np.asarray(landmarks, dtype=float)
    return StepResult(standardizer.transform(image, mask), mask,
                      info={"method": method, "region": region, "landmarks": list(map(float, landmarks))})


class HistogramStandardizer:
    """Nyul & Udupa histogram standardisation, scikit-learn style: ``fit`` learns
    the mean landmarks (percentiles mapped onto a standard scale) on training
    images, ``transform`` maps an image's landmarks onto them piecewise linearly."""

    PERCENTILES = (1, 10, 20, 30, 40, 50, 60, 70, 80, 90, 99)

    def __init__(self, percentiles: Sequence[float] = PERCENTILES, scale: tuple[float, float] = (0.0, 100.0),
                 region: str = "body") -> None:
        self.percentiles = tuple(percentiles)
        self.scale = scale
        self.region = region

    def _landmarks(self, image: sitk.Image, mask: sitk.Image | None) -> np.ndarray:
        return np.percentile(_region(_as_float(image), mask, self.region), self.percentiles)

    def fit(self, images: Iterable[tuple[sitk.Image, sitk.Image | None]]) -> "HistogramStandardizer":
        """Learn the standard landmarks; ``images`` may be a generator (one image in memory at a time)."""
        mapped = []
        for image, mask in images:
            marks = self._landmarks(image, mask)
            lo, hi = marks[0], marks[-1]
            if hi <= lo:
                raise InputError("image has no intensity range for histogram standardisation")
            mapped.append(self.scale[0] + (marks - lo) / (hi - lo) * (self.scale[1] - self.scale[0]))
        if not mapped:
            raise InputError("histogram standardisation needs at least one training image")
        self.landmarks_ = np.mean(mapped, axis=0)
        return self

    def transform(self, image: sitk.Image, mask: sitk.Image | None = None) -> sitk.Image:
        marks = self._landmarks(image, mask)
        array = sitk.GetArrayFromImage(_as_float(image))
        # Piecewise linear inside the landmarks, linear extrapolation outside (as Nyul's method does).
        out = np.interp(array, marks, self.landmarks_)
        below, above = array < marks[0], array > marks[-1]
        slope_lo = (self.landmarks_[1] - self.landmarks_[0]) / max(marks[1] - marks[0], 1e-12)
        slope_hi = (self.landmarks_[-1] - self.landmarks_[-2]) / max(marks[-1] - marks[-2], 1e-12)
        out[below] = self.landmarks_[0] + (array[below] - marks[0]) * slope_lo
        out[above] = self.landmarks_[-1] + (array[above] - marks[-1]) * slope_hi
        return _from_array(out, image)


STEPS = {"n4": n4_bias_correction, "denoise": denoise, "resample": resample, "normalize": normalize}
