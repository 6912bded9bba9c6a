"""ROI-centred crops for the end-to-end CNN, as MONAI dictionary transforms and datasets.

An item is one network input: in 2D one slice holding the ROI (``slice`` set), in 3D one patch per case.
:class:`LoadRoiCropd` reads the case with SimpleITK and cuts the crop out: ``crop`` x ``crop`` voxels
in-plane (2D) or a ``crop``-voxel cube (3D) centred on the ROI's bounding box, the image's edge values
beyond its border; intensities z-scored per case over the crop region (MR) or a -1000..1000 HU window
scaled to 0..1 (CT). The random transforms are MONAI's (flips, 90-degree and small rotations, intensity
scale and shift, optional elastic deformation). :func:`dataset` caches the deterministic part with MONAI's
``CacheDataset`` (each case read once) or, with ``cache=False``, reads every item again every epoch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Hashable, Mapping

import numpy as np
import SimpleITK as sitk
from monai.transforms import Transform

from ..io.errors import InputError
from .settings import CnnSettings


def _box(mask: np.ndarray) -> tuple[slice, ...]:
    box = []
    for axis in range(mask.ndim):
        present = np.flatnonzero(mask.any(axis=tuple(a for a in range(mask.ndim) if a != axis)))
        box.append(slice(int(present[0]), int(present[-1]) + 1))
    return tuple(box)


def _window(length: int, centre: float, size: int) -> np.ndarray:
    """Indices of ``size`` voxels centred on ``centre``, clamped into 0..length-1 (edge values beyond)."""
    start = int(np.floor(centre - size / 2.0 + 0.5))
    return np.clip(np.arange(start, start + size), 0, length - 1)


def read_case(image_file: str | Path, mask_file: str | Path, case_id: str) -> tuple[np.ndarray, np.ndarray]:
    """Image (float32) and ROI (bool: every non-zero label) as z, y, x arrays; the grids must agree."""
    from ..io.images import read_image

    image = read_image(image_file, case_id=case_id)
    mask = read_image(mask_file, case_id=case_id)
    if image.GetDimension() != 3 and image.GetDimension() != 2:
        raise InputError(f"the image is {image.GetDimension()}D", case_id=case_id, file=image_file,
                         hint="give 2D or 3D scalar images")
    if mask.GetSize() != image.GetSize():
        raise InputError(f"the mask's size {mask.GetSize()} differs from the image's {image.GetSize()}",
                         case_id=case_id, file=mask_file, hint="resample the mask onto the image first")
    values = sitk.GetArrayFromImage(image).astype(np.float32)
    roi = sitk.GetArrayFromImage(mask) != 0
    if values.ndim == 2:
        values, roi = values[None], roi[None]
    if not roi.any():
        raise InputError("the mask is empty", case_id=case_id, file=mask_file, hint="check the segmentation")
    return values, roi


def roi_slices(mask_file: str | Path, case_id: str) -> list[int]:
    """The slices (numpy axis 0) that hold the ROI: one 2D item each."""
    from ..io.images import read_image

    mask = read_image(mask_file, case_id=case_id)  # named: a view does not keep its image alive
    roi = sitk.GetArrayViewFromImage(mask) != 0
    if roi.ndim == 2:
        roi = roi[None]
    slices = np.flatnonzero(roi.any(axis=(1, 2)))
    if slices.size == 0:
        raise InputError("the mask is empty", case_id=case_id, file=mask_file, hint="check the segmentation")
    return [int(z) for z in slices]


def case_crop(values: np.ndarray, roi: np.ndarray, settings: CnnSettings) -> tuple[np.ndarray, np.ndarray]:
    """The crop region of a case (z, y, x; all ROI slices in 2D, a cube in 3D): intensities scaled, and the ROI."""
    box = _box(roi)
    centre = [(b.start + b.stop - 1) / 2.0 for b in box]
    size = settings.crop
    rows, cols = _window(values.shape[1], centre[1], size), _window(values.shape[2], centre[2], size)
    if settings.dims == 2:
        planes = np.arange(values.shape[0])
    else:
        planes = _window(values.shape[0], centre[0], size)
    region = np.ix_(planes, rows, cols)
    crop, crop_roi = values[region], roi[region]
    if settings.intensity == "ct":
        scaled = np.clip((crop + 1000.0) / 2000.0, 0.0, 1.0)
    else:
        reference = crop[box[0].start:box[0].stop] if settings.dims == 2 else crop
        scaled = (crop - reference.mean()) / (reference.std() or 1.0)
    return scaled.astype(np.float32), crop_roi.astype(np.float32)


class LoadRoiCropd(Transform):
    """MONAI dictionary transform (deterministic: ``CacheDataset`` caches its output): ``{"image": file, "mask": file, "case_id", "slice"}`` ->
    ``image`` (1, H, W) or (1, D, H, W) float32 and ``roi`` (the ROI mask, same shape)."""

    def __init__(self, settings: CnnSettings, reuse_last_case: bool = False) -> None:
        self.settings = settings
        self.reuse_last_case = reuse_last_case  # building a cache: the slices of one case come in a row
        self._last: tuple[Any, tuple[np.ndarray, np.ndarray]] | None = None

    def __call__(self, data: Mapping[Hashable, Any]) -> dict:
        item = dict(data)
        key = (str(item["image"]), str(item["mask"]))
        if self.reuse_last_case and self._last is not None and self._last[0] == key:
            crop, crop_roi = self._last[1]
        else:
            crop, crop_roi = case_crop(*read_case(item["image"], item["mask"], item["case_id"]), self.settings)
            if self.reuse_last_case:
                self._last = (key, (crop, crop_roi))
        if self.settings.dims == 2:
            crop, crop_roi = crop[item["slice"]], crop_roi[item["slice"]]
        item["image"], item["roi"] = crop[None].copy(), crop_roi[None].copy()
        return item


def random_transforms(settings: CnnSettings) -> list:
    """MONAI's random augmentations on ``image`` (and ``roi``, spatially), then the ROI as a channel if asked."""
    from monai import transforms as T

    keys = ["image", "roi"]
    spatial = [0, 1] if settings.dims == 2 else [1, 2]  # in-plane axes (after the channel)
    out = []
    if settings.augment:
        out += [T.RandFlipd(keys, prob=0.5, spatial_axis=spatial[0]), T.RandFlipd(keys, prob=0.5, spatial_axis=spatial[1]),
                T.RandRotate90d(keys, prob=0.5, max_k=3, spatial_axes=tuple(spatial)),
                T.RandRotated(keys, range_x=0.26 if settings.dims == 2 else 0.0,
                              range_z=0.26 if settings.dims == 3 else 0.0, prob=0.3,
                              mode=("bilinear", "nearest"), padding_mode="border"),
                T.RandScaleIntensityd("image", factors=0.1, prob=0.5),
                T.RandShiftIntensityd("image", offsets=0.1, prob=0.5)]
        if settings.elastic:
            elastic = (T.Rand2DElasticd(keys, spacing=(8, 8), magnitude_range=(1, 2), prob=0.2,
                                        mode=("bilinear", "nearest"), padding_mode="border")
                       if settings.dims == 2 else
                       T.Rand3DElasticd(keys, sigma_range=(5, 8), magnitude_range=(50, 150), prob=0.2,
                                        mode=("bilinear", "nearest"), padding_mode="border"))
            out.append(elastic)
    return out + final_transforms(settings)


def final_transforms(settings: CnnSettings) -> list:
    from monai import transforms as T

    out = [T.ConcatItemsd(["image", "roi"], "image")] if settings.mask_channel else []
    return out + [T.ToTensord("image", track_meta=False)]


def dataset(items: list[dict], settings: CnnSettings, *, train: bool, cache: bool | None = None):
    """A MONAI dataset of the items: cached deterministic crops (``CacheDataset``) or read every time."""
    from monai import transforms as T
    from monai.data import CacheDataset, Dataset

    cache = settings.cache if cache is None else cache
    rest = random_transforms(settings) if train else final_transforms(settings)
    if cache:
        return CacheDataset(items, T.Compose([LoadRoiCropd(settings, reuse_last_case=True)] + rest),
                            progress=False, num_workers=0)
    return Dataset(items, T.Compose([LoadRoiCropd(settings)] + rest))
