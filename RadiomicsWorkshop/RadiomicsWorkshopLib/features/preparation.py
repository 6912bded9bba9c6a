"""The image and masks as PyRadiomics' feature classes see them, prepared by us with PyRadiomics' steps and
numbers (``RadiomicsFeatureExtractor.loadImage``, ``imageoperations.checkMask``, ``resegmentMask``,
``resampleImage``, ``normalizeImage``; PyRadiomics 3.0.1), so that no PyRadiomics is needed:

- normalisation (``normalize``: SimpleITK's Normalize over the whole image, ``removeOutliers``,
  ``normalizeScale``), then resampling (``resampledPixelSpacing`` with ``interpolator``: the ROI's box grown
  by ``padDistance`` on the new grid, the mask by nearest neighbour);
- the ROI's checks (a single voxel, ``minimumROIDimensions``, ``minimumROISize``) with PyRadiomics' messages;
- re-segmentation (``resegmentRange`` with ``resegmentMode`` absolute, relative or sigma);
- arrays (z, y, x) of the ROI's bounding box: PyRadiomics' classes see the voxels of the ROI only, so the box
  holds every voxel they use;
- PyRadiomics' discretisation (``imageoperations.getBinEdges``, ``binImage``): fixed-width bins on multiples
  of ``binWidth``, or ``binCount`` bins of the ROI's range.

Shared by our engine (``engine``) and the IBSI families (``ibsi.families``).

The mask must lie on the image's grid (``io.validation.align_mask`` sees to that before extraction).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import SimpleITK as sitk


@dataclass
class PreparedRoi:
    """One ROI as PyRadiomics' classes see it: arrays (z, y, x) of the same box."""

    values: np.ndarray  # the image's intensities, as their own type
    drawn_mask: np.ndarray  # the ROI as drawn (the IBSI's morphological mask)
    intensity_mask: np.ndarray  # the re-segmented ROI (texture, first order)
    shape_mask: np.ndarray  # the ROI as PyRadiomics' shape sees it (see ``prepare``)
    spacing: tuple[float, float, float]  # z, y, x in mm
    image: sitk.Image  # the image after normalisation and resampling (filters start from it)
    mask: sitk.Image  # the mask on its grid
    dimension: int = 3  # the image's own: a 2D image is prepared as one slice
    box: tuple[slice, ...] = ()  # where the arrays lie in ``image`` (z, y, x)


def normalised(image: sitk.Image, settings: Mapping[str, Any]) -> sitk.Image:
    """PyRadiomics' ``normalizeImage``."""
    image = sitk.Normalize(image)
    outliers = settings.get("removeOutliers")
    if outliers is not None:
        array = sitk.GetArrayFromImage(image)
        array[array > outliers] = outliers
        array[array < -outliers] = -outliers
        clipped = sitk.GetImageFromArray(array)
        clipped.CopyInformation(image)
        image = clipped
    return image * settings.get("normalizeScale", 1)


def _bounding_box(mask: sitk.Image, label: int) -> np.ndarray:
    statistics = sitk.LabelShapeStatisticsImageFilter()
    statistics.Execute(mask)
    if label not in statistics.GetLabels():
        raise ValueError(f"Label ({label}) not present in mask")
    return np.array(statistics.GetBoundingBox(label))


def resampled(image: sitk.Image, mask: sitk.Image, settings: Mapping[str, Any]) -> tuple[sitk.Image, sitk.Image]:
    """PyRadiomics' ``resampleImage``: both onto ``resampledPixelSpacing`` (0: keep), over the ROI's box grown by
    ``padDistance`` voxels of the new grid; an axis the ROI spans one voxel of keeps its spacing."""
    label = settings.get("label", 1)
    pad = settings.get("padDistance", 5)
    mask_spacing = np.array(mask.GetSpacing())
    spacing = np.array(settings["resampledPixelSpacing"], dtype=float)
    if len(spacing) != mask.GetDimension():
        raise ValueError(f"Wrong dimensionality ({len(spacing)}-D) of resampledPixelSpacing!, "
                         f"{mask.GetDimension()}-D required")
    spacing = np.where(spacing == 0, mask_spacing, spacing)
    box = _bounding_box(mask, label)
    dimension = mask.GetDimension()
    spacing = np.where(box[dimension:] != 1, spacing, mask_spacing)
    if np.allclose(np.array(image.GetSpacing()), spacing):
        mask = sitk.Resample(mask, image, sitk.Transform(), sitk.sitkNearestNeighbor)
        box = _bounding_box(mask, label)
        low, size = box[:dimension], box[dimension:]
        return _cropped(image, mask, low, low + size - 1, pad)
    ratio = mask_spacing / spacing
    lower = np.floor((box[:dimension] - 0.5) * ratio - pad)
    upper = np.ceil((box[:dimension] + box[dimension:] - 0.5) * ratio + pad)
    upper = np.minimum(upper, np.ceil(np.array(mask.GetSize()) * ratio) - 1)
    lower = np.maximum(lower, 0)
    size = np.array(upper - lower + 1, dtype="int").tolist()
    origin_index = 0.5 * (spacing - mask_spacing) / mask_spacing + lower / ratio
    origin = mask.TransformContinuousIndexToPhysicalPoint(origin_index)
    interpolator = settings.get("interpolator", sitk.sitkBSpline)
    if isinstance(interpolator, str):
        interpolator = getattr(sitk, interpolator, sitk.sitkBSpline)
    resample = sitk.ResampleImageFilter()
    resample.SetOutputSpacing(spacing.tolist())
    resample.SetOutputDirection(mask.GetDirection())
    resample.SetSize(size)
    resample.SetOutputOrigin(origin)
    resample.SetOutputPixelType(image.GetPixelID())
    resample.SetInterpolator(interpolator)
    new_image = resample.Execute(image)
    resample.SetOutputPixelType(mask.GetPixelID())
    resample.SetInterpolator(sitk.sitkNearestNeighbor)
    return new_image, resample.Execute(mask)


def _cropped(image: sitk.Image, mask: sitk.Image, low: np.ndarray, high: np.ndarray, pad: int):
    """PyRadiomics' ``cropToTumorMask``: the box [low, high] (x, y, z) grown by ``pad`` voxels, within the image."""
    size = np.array(mask.GetSize())
    lower = np.maximum(low - pad, 0).tolist()
    upper = np.maximum(size - high - pad - 1, 0).tolist()
    return sitk.Crop(image, lower, upper), sitk.Crop(mask, lower, upper)


def present(mask: np.ndarray) -> list[np.ndarray]:
    """The indices along each axis where ``mask`` has a voxel: two passes over the array, not one per axis."""
    if mask.ndim == 1:
        return [np.nonzero(mask)[0]]
    return [np.nonzero(mask.any(axis=tuple(range(1, mask.ndim))))[0]] + present(mask.any(axis=0))


def check_roi(mask_array: np.ndarray, settings: Mapping[str, Any], where: list[np.ndarray] | None = None) -> None:
    """PyRadiomics' ``checkMask`` on the ROI: raises ValueError with its messages. ``where``: ``present(mask)``
    where known."""
    present_ = present(mask_array) if where is None else where
    if any(p.size == 0 for p in present_):
        raise ValueError(f"Label ({settings.get('label', 1)}) not present in mask")
    dimensions = sum(int(p[-1] - p[0] + 1 > 1) for p in present_)
    minimum = settings.get("minimumROIDimensions", 2)
    if dimensions == 0:
        raise ValueError("mask only contains 1 segmented voxel! Cannot extract features for a single voxel.")
    if dimensions < minimum:
        raise ValueError(f"mask has too few dimensions (number of dimensions {dimensions}, minimum required {minimum})")
    minimum_size = settings.get("minimumROISize")
    if minimum_size is not None and mask_array.sum() <= minimum_size:
        raise ValueError(f"Size of the ROI is too small (minimum size: {minimum_size}, ROI size: {mask_array.sum()}")


def resegmented(values: np.ndarray, mask: np.ndarray, settings: Mapping[str, Any]) -> np.ndarray:
    """PyRadiomics' ``resegmentMask`` as an array: the ROI's voxels within ``resegmentRange``."""
    bounds = settings.get("resegmentRange")
    if bounds is None:
        return mask
    if len(bounds) == 0 or len(bounds) > 2:
        raise ValueError(f"Length {len(bounds)} is not allowed for resegmentRange")
    mode = settings.get("resegmentMode", "absolute")
    roi = values[mask]
    if mode == "absolute":
        thresholds = sorted(bounds)
    elif mode == "relative":
        thresholds = [np.max(roi) * t for t in sorted(bounds)]
    elif mode == "sigma":
        thresholds = [np.mean(roi) + np.std(roi) * t for t in sorted(bounds)]
    else:
        raise ValueError(f"Resegment mode {mode} not recognized.")
    kept = mask.copy()
    kept[mask] = roi >= thresholds[0]
    if len(thresholds) == 2:
        kept[kept] = values[kept] <= thresholds[1]
    if kept.sum() <= 1:
        raise ValueError(f"Resegmentation excluded too many voxels with label {settings.get('label', 1)} "
                         f"(retained {int(kept.sum())} voxel(s))! Cannot extract features")
    return kept


def roi_box(mask: np.ndarray, margin: Sequence[int] = (0, 0, 0),
            where: list[np.ndarray] | None = None) -> tuple[slice, ...]:
    """The ROI's bounding box (numpy order) grown by ``margin`` voxels per axis, within the array.
    ``where``: ``present(mask)`` where known."""
    return tuple(slice(max(int(p[0]) - m, 0), min(int(p[-1]) + 1 + m, n))
                 for p, m, n in zip(present(mask) if where is None else where, margin, mask.shape))


def prepare(image: sitk.Image, mask: sitk.Image, label: int, settings: Mapping[str, Any],
            margin: Callable[[Sequence[float]], Sequence[int]] | None = None) -> PreparedRoi:
    """One ROI through PyRadiomics' preparation. The shape mask is the ROI as drawn, cut to the re-segmented
    ROI's box as PyRadiomics 3.0.1 cuts it (``execute``: ``computeShape`` with ``checkMask``'s box of the
    re-segmented mask; the same box unless re-segmentation empties the ROI's edge). ``margin``: spacing
    (z, y, x) -> voxels per axis the box grows by (within the image), for features that look around the ROI."""
    settings = {**settings, "label": label}
    dimension = image.GetDimension()
    if dimension == 2:  # one slice of a 3D image: the same features (PyRadiomics' angles skip flat axes)
        image, mask = sitk.JoinSeries(image), sitk.JoinSeries(mask)
    if settings.get("normalize"):
        image = normalised(image, settings)
    if settings.get("interpolator") is not None and settings.get("resampledPixelSpacing") is not None:
        image, mask = resampled(image, mask, settings)
    mask_array = sitk.GetArrayViewFromImage(mask) == label
    where = present(mask_array)
    check_roi(mask_array, settings, where)
    spacing = tuple(float(s) for s in image.GetSpacing()[::-1])
    box = roi_box(mask_array, margin(spacing) if margin else (0,) * mask_array.ndim, where)
    values = sitk.GetArrayViewFromImage(image)[box].copy()
    drawn = mask_array[box].copy()
    intensity = resegmented(values, drawn, settings)
    if intensity is not drawn:
        check_roi(intensity, settings)  # PyRadiomics checks the re-segmented ROI too
        inner = roi_box(intensity)
        shape = np.zeros_like(drawn)
        shape[inner] = drawn[inner]
    else:
        shape = drawn
    return PreparedRoi(values, drawn, intensity, shape, spacing, image, mask, dimension, box)


def bin_edges(values: np.ndarray, settings: Mapping[str, Any]) -> np.ndarray:
    """PyRadiomics' ``getBinEdges`` for the ROI's intensities ``values``."""
    count = settings.get("binCount")
    if count is not None:
        edges = np.histogram(values, count)[1]
        edges[-1] += 1  # the maximum in the top bin, by numpy.digitize
        return edges
    width = settings.get("binWidth", 25)
    low = values.min() - (values.min() % width)
    edges = np.arange(low, values.max() + 2 * width, width)
    if len(edges) == 1:  # a flat region: one bin
        edges = np.array([edges[0] - 0.5, edges[0] + 0.5])
    return edges


def discretised(values: np.ndarray, mask: np.ndarray, settings: Mapping[str, Any]) -> tuple[np.ndarray, int]:
    """The ROI's grey levels (1.., 0 outside ``mask``) and the highest, as PyRadiomics' ``binImage`` gives them."""
    levels = np.zeros(values.shape, dtype=np.int64)
    levels[mask] = np.digitize(values[mask], bin_edges(values[mask], settings))
    return levels, int(levels[mask].max())
