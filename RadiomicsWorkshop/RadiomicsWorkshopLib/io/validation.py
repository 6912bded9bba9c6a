"""Checks that run before any feature is computed.

Image and mask must share the voxel grid (size, spacing, origin, direction
within a tolerance) or the user must ask for the mask to be resampled; the ROI
must exist and hold enough voxels; the image must be finite; a 2D image needs
a 2D setting. Each failure raises :class:`InputError` naming case, file and fix.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from .errors import InputError

#: Relative tolerance on spacing/origin (in units of the spacing) and direction.
GEOMETRY_TOLERANCE = 1e-3


def _geometry(image: sitk.Image) -> str:
    fmt = lambda v: "(" + ", ".join(f"{x:.6g}" for x in v) + ")"  # noqa: E731
    return (f"size {image.GetSize()}, spacing {fmt(image.GetSpacing())}, "
            f"origin {fmt(image.GetOrigin())}, direction {fmt(image.GetDirection())}")


def geometry_differences(image: sitk.Image, mask: sitk.Image, tolerance: float = GEOMETRY_TOLERANCE) -> list[str]:
    """What differs between the voxel grids of two images (empty when they match)."""
    diffs = []
    if image.GetDimension() != mask.GetDimension():
        return [f"dimension {image.GetDimension()} vs {mask.GetDimension()}"]
    if image.GetSize() != mask.GetSize():
        diffs.append("size")
    spacing = np.array(image.GetSpacing())
    if not np.allclose(spacing, mask.GetSpacing(), rtol=tolerance, atol=0):
        diffs.append("spacing")
    if not np.allclose(image.GetOrigin(), mask.GetOrigin(), rtol=0, atol=tolerance * spacing.min()):
        diffs.append("origin")
    if not np.allclose(image.GetDirection(), mask.GetDirection(), rtol=0, atol=tolerance):
        diffs.append("direction")
    return diffs


def is_sub_lattice(image: sitk.Image, mask: sitk.Image, tolerance: float = GEOMETRY_TOLERANCE) -> bool:
    """True when the mask's voxels are a subset of the image's voxel grid.

    Slicer saves segmentations cropped to their extent; such a mask maps onto
    the image without interpolation, so resampling it is lossless.
    """
    diffs = geometry_differences(image, mask, tolerance)
    if not diffs or any(d in diffs for d in ("spacing", "direction")) or diffs[0].startswith("dimension"):
        return False
    index = np.array(image.TransformPhysicalPointToContinuousIndex(mask.GetOrigin()))
    return bool(np.allclose(index, np.round(index), atol=tolerance))


def resample_to(mask: sitk.Image, image: sitk.Image) -> sitk.Image:
    """Nearest-neighbour resampling of a label image onto the image's grid."""
    return sitk.Resample(mask, image, sitk.Transform(), sitk.sitkNearestNeighbor, 0, mask.GetPixelID())


def align_mask(image: sitk.Image, mask: sitk.Image, *, resample_mask: bool, case_id: str | None,
               image_file: str, mask_file: str) -> tuple[sitk.Image, str | None]:
    """Return the mask on the image's grid, and what was done to it (for provenance)."""
    diffs = geometry_differences(image, mask)
    if not diffs:
        return mask, None
    if is_sub_lattice(image, mask):
        return resample_to(mask, image), "mask extent padded onto the image grid (lossless)"
    if resample_mask:
        if diffs[0].startswith("dimension"):
            raise InputError(f"mask and image have different dimensions ({diffs[0]})", case_id=case_id,
                             file=mask_file, hint="use a mask made on this image")
        return resample_to(mask, image), "mask resampled onto the image grid (nearest neighbour)"
    raise InputError(
        f"mask does not match the image ({', '.join(diffs)} differ): image {_geometry(image)}; "
        f"mask {_geometry(mask)}", case_id=case_id, file=mask_file,
        hint=f"check that '{mask_file}' belongs to '{image_file}'; if it does, pass --resample-mask "
             "to resample the mask onto the image (nearest neighbour)")


def check_finite(image: sitk.Image, *, case_id: str | None, image_file: str) -> None:
    array = sitk.GetArrayViewFromImage(image)
    if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).sum())
        raise InputError(f"image has {bad} NaN/Inf voxel(s)", case_id=case_id, file=image_file,
                         hint="replace them (e.g. with the background value) before extraction")


def check_roi(mask: sitk.Image, label: int, roi_name: str, *, minimum_voxels: int, case_id: str | None,
              mask_file: str) -> int:
    """Check the ROI is present with at least ``minimum_voxels`` voxels; return its voxel count."""
    count = int(np.count_nonzero(sitk.GetArrayViewFromImage(mask) == label))
    if count == 0:
        raise InputError(f"ROI '{roi_name}' (label {label}) is empty", case_id=case_id, file=mask_file,
                         hint="draw the ROI, or choose another label/segment")
    if count < minimum_voxels:
        raise InputError(f"ROI '{roi_name}' has {count} voxel(s); texture and shape features need at least "
                         f"{minimum_voxels}", case_id=case_id, file=mask_file,
                         hint="check the segmentation (a stray click?) or exclude this ROI")
    return count


def image_is_2d(image: sitk.Image) -> bool:
    return image.GetDimension() == 2 or min(image.GetSize()) == 1


def check_dimensionality(image: sitk.Image, settings: dict, preset_name: str, *, case_id: str | None,
                         image_file: str) -> None:
    """A 2D image (one slice) cannot go through 3D features (shape, 3D filters)."""
    if image_is_2d(image) and not settings.get("force2D", False):
        raise InputError(f"image is 2D (size {image.GetSize()}) but the settings '{preset_name}' are 3D",
                         case_id=case_id, file=image_file,
                         hint="use the 2D preset (--preset MR_2D) or set force2D: true in your parameter file")
